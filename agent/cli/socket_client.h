// A small blocking HTTP/1.1 client for the agent's Unix socket. Plain POSIX sockets: the CLI
// must start fast and stay small, so it does not pull in Beast.
#pragma once

#include <chrono>
#include <string>

#include "common/json/json.h"

namespace ff::cli {

struct SocketResponse {
  int status = 0;
  std::string body;
  std::string header_block;  // raw header lines, for X-Fleetflag-* lookups
  std::string header(const std::string& name) const;
};

// One request on a fresh connection (Connection: close). Error codes: "connect" (agent not
// running or no permission), "timeout", "io", "protocol", "too_large".
Result<SocketResponse> socket_request(const std::string& socket_path, const std::string& method,
                                      const std::string& target, const std::string& body,
                                      std::chrono::milliseconds timeout);

}  // namespace ff::cli
