// C++ harness around the node flagd-protocol test server (tests/server/flagd-test-server.mjs;
// contract in tests/server/README.md). It spawns one server per object, talks to its control API
// with a tiny blocking HTTP/1.1 client over POSIX sockets (deliberately independent of ff_http,
// so it can be used to test that client), and stops the process on destruction.
//
// Nothing here throws; failures come back as ff::Error with code "spawn", "start_timeout",
// "exited", "connect", "io", "timeout", "http" (bad answer) or "control" (non-2xx answer).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json/json.h"

namespace ff::testing {

struct SimpleHttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;                                          // de-chunked
  // Case-insensitive lookup of the first header with that name; "" when absent.
  std::string header(std::string_view name) const;
};

// One blocking HTTP/1.1 exchange with 127.0.0.1:`port` ("Connection: close"; a Content-Length is
// always sent for `body`). The whole exchange must finish within `timeout`.
Result<SimpleHttpResponse> simple_http(
    int port, std::string_view method, std::string_view target, std::string_view body = {},
    const std::vector<std::pair<std::string, std::string>>& headers = {},
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

class FlagdTestServer {
 public:
  FlagdTestServer();
  ~FlagdTestServer();  // stop() + removes the temp dir
  FlagdTestServer(const FlagdTestServer&) = delete;
  FlagdTestServer& operator=(const FlagdTestServer&) = delete;

  // Spawns `node FF_NODE_SERVER --flags <tmp file> --port 0 --exit-on-stdin-eof` ($FF_NODE, if
  // set, replaces `node`) and waits up to 20 s for its {"port":N} line. Returns the port. A
  // running server is stopped first.
  Result<int> start(std::string_view flags_json = R"({"flags":{}})");
  // stop(), then start with the current flags (the last accepted set_flags) on the same port;
  // if that port cannot be bound any more, on a new one. Returns the port.
  Result<int> restart();
  // SIGTERM (the server ends its EventStreams with provider_shutdown + end-stream), SIGKILL after
  // 3 s; reaps the child. No-op when not running.
  void stop();
  // SIGKILL now: streams are cut without any end-stream envelope.
  void kill9();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const;  // "http://127.0.0.1:PORT"
  // mkdtemp dir holding the flags file ("" before the first start); removed by the destructor.
  const std::string& temp_dir() const { return dir_; }

  // Control API (tests/server/README.md §4). Each returns the parsed JSON answer.
  Result<Json> set_flags(std::string_view definitions_json);  // {"changed":{key:type}}
  Result<Json> set_flags_raw(std::string_view bytes);         // only GET /flags.json serves them
  Result<Json> set_mode(std::string_view mode_json);          // e.g. Json{...}.dump()
  Result<Json> set_now(double unix_seconds);
  Result<Json> clear_now();
  Result<Json> set_keep_alive_ms(int ms);
  Result<Json> set_auth_token(std::string_view token);
  Result<Json> clear_auth();
  Result<Json> stats();
  Result<Json> stop_streams(bool abrupt = false);
  Result<Json> reset();

  // Number of (non-control) requests seen on `path` (from stats()); -1 on error.
  int request_count(std::string_view path);
  // Polls stats() until request_count(path) >= n or `timeout` passes; returns the last count.
  int wait_for_requests(std::string_view path, int n,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  // Raw control call, e.g. control("POST", "/_control/mode", R"({"mode":"down"})").
  Result<Json> control(std::string_view method, std::string_view path, std::string_view body);

 private:
  Result<int> spawn(int port);
  void reap(std::chrono::milliseconds grace);

  std::string dir_;         // mkdtemp dir holding flags.json
  std::string flags_text_;  // what restart() loads
  pid_t pid_ = -1;
  int port_ = 0;
  int stdin_fd_ = -1;   // write end of the child's stdin; closing it makes the server exit
  int stdout_fd_ = -1;  // read end of the child's stdout
};

}  // namespace ff::testing
