// Minimal HTTP/1.1 client (Boost.Beast inside, not in this header) used by the sync
// upstreams: http:// and https:// (OpenSSL, system CA store, custom CA, client certificate).
//
// Every call has a deadline; bodies are limited; no exception escapes. Calls are blocking and
// thread-safe across different Client objects (each call runs its own io_context).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json/json.h"

namespace ff::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://...
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // whole exchange: connect + TLS + write + read
  std::size_t max_body = 8u << 20;
  // request() only (stream() takes its own flag): when set and it becomes true, the call ends
  // within ~100 ms with Error "cancelled", whatever phase it is in (resolve, connect, TLS,
  // write, read), so a shutdown never waits for a slow server. Not owned; must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  // Case-insensitive lookup of the first header with that name.
  std::optional<std::string> header(std::string_view name) const;
};

struct TlsOptions {
  std::string ca_file;      // extra CA bundle (PEM); the system store is always used too
  std::string client_cert;  // PEM client certificate, with client_key
  std::string client_key;
  bool verify = true;  // verify peer and host name
};

class Client {
 public:
  explicit Client(TlsOptions tls = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Error codes: "bad_url", "bad_request" (invalid method or header), "resolve", "connect",
  // "tls", "timeout", "io" (also malformed or truncated responses), "too_large" (body over
  // max_body, or headers over 64 KiB). Any status is a Response, not an error. One connection
  // per call ("Connection: close"). For https, the CA/certificate/key files are loaded per call,
  // so rotated files are picked up.
  Result<Response> request(const Request& req);

  // Server-streamed response: `on_data` receives body bytes as they arrive (chunked decoding
  // done) and returns false to stop. Ends on end of body, on `cancel` becoming true (checked at
  // least every 200 ms), or when no byte arrives for `idle_timeout`. Returns the HTTP status.
  // Details: `req.timeout` bounds the exchange up to the response headers only; then the idle
  // timeout applies (an Error "timeout"). Bytes of every status are passed to `on_data` (check
  // the returned status). The body is not limited by max_body (the consumer bounds what it
  // keeps). End of body, `on_data` returning false and `cancel` after the headers return the
  // status; `cancel` before the headers is Error "cancelled"; a connection lost mid-body is
  // "io". An exception thrown by `on_data` is caught and returned as "io".
  Result<int> stream(const Request& req, const std::function<bool(std::string_view)>& on_data,
                     const std::atomic<bool>& cancel, std::chrono::milliseconds idle_timeout);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace ff::http
