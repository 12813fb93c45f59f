// The agent's local API: HTTP/1.1 + JSON on a Unix socket (and optionally a loopback TCP
// listener for OpenFeature SDKs using OFREP, which serves only the OFREP routes, /healthz and
// /readyz: the rest of the API has no auth but the socket's file permissions). Boost.Beast
// lives only in server.cpp.
//
// Read path: every answer is built from the current immutable Snapshot (StateHolder), never
// from SQLite or the network. One class per connection, do_x/on_x async pairs, a timeout and a
// body limit on every operation; malformed requests get 400 with a JSON error body.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/state/clock.h"
#include "agent/state/state_holder.h"
#include "common/json/json.h"

namespace ff::api {

struct ServerOptions {
  std::string socket_path = "/run/fleetflag/fleetflag.sock";
  unsigned socket_mode = 0660;
  std::string socket_group;  // chgrp the socket when set (e.g. "fleetflag")
  // Loopback TCP listener for OFREP clients; disabled when empty. Port 0 = ephemeral.
  std::string tcp_address;
  std::uint16_t tcp_port = 0;
  std::size_t max_connections = 512;
  std::size_t max_header_bytes = 8192;
  std::size_t max_body_bytes = 1u << 20;
  std::chrono::milliseconds read_timeout{10000};  // to receive a whole request
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive idle
  std::chrono::milliseconds max_wait{300000};     // cap on ?wait= for blocking queries
  std::chrono::milliseconds default_wait{30000};  // ?index= without ?wait=
  unsigned threads = 1;
};

// Evaluates flags for a caller-supplied context (OFREP POST). In definitions mode the agent can
// evaluate any context locally; in remote modes it returns nullopt and the server answers from
// the host's snapshot. Returned JSON: {"flags": {key: answer}, "metadata"?: {...}} with the
// answers in the canonical answer shape (see agent/sync/upstream.h) and, optionally, the
// flag-set metadata of the definitions used (the OFREP bulk answer's top-level metadata;
// without it the snapshot's flag_set_metadata is shown).
class OfrepBackend {
 public:
  virtual ~OfrepBackend() = default;
  virtual std::optional<Json> evaluate_all(const Json& request_context) = 0;
};

// Extra read-only views the API shows (status details, context provenance); all optional.
struct Views {
  std::function<Json()> status_extra;    // merged into /v1/status
  std::function<Json()> context;         // GET /v1/context
  std::function<std::string()> metrics;  // GET /metrics (Prometheus text)
};

class Server {
 public:
  Server(ServerOptions options, state::StateHolder& state, const Clock& clock,
         OfrepBackend* backend = nullptr, Views views = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket (replacing a stale socket file left by a crash, refusing to steal one a
  // live process is listening on), the optional TCP listener, and starts serving on its own
  // threads. Error codes: "socket_in_use", "bind", "listen", "chmod", "chgrp".
  Result<bool> start();
  // Stops accepting, lets in-flight requests finish (up to `drain`), closes everything and
  // removes the socket file.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(5000));

  std::uint16_t tcp_port() const;  // the bound port (after start), 0 if none
  std::size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ff::api
