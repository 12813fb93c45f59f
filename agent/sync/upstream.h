// Upstreams: where the agent gets flags from. One attempt = one fetch(); scheduling, jitter,
// backoff and what to do with the result belong to the sync loop (agent/sync/scheduler.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/json/json.h"

namespace ff::sync {

enum class Mode { kOfrep, kFlagd, kDefinitions };
const char* to_string(Mode m);

struct UpstreamConfig {
  Mode mode = Mode::kDefinitions;
  // ofrep/flagd: base URL (e.g. http://flagd:8016 / http://flagd:8013). definitions: a file
  // path, file:///path, or an http(s):// URL of a flagd definitions document.
  std::string url;
  http::Headers headers;          // extra headers
  std::string bearer_token_file;  // "Authorization: Bearer <contents, trimmed>" when set
  std::string selector;           // Flagd-Selector header when set
  http::TlsOptions tls;
  std::chrono::milliseconds timeout{10000};
  std::size_t max_body = 8u << 20;
};

// One answer per flag, in the agent's canonical shape (the OFREP success/failure objects
// without "key"): {"value"?, "variant"?, "reason", "errorCode"?, "errorDetails"?, "metadata"}.
struct Fetched {
  bool not_modified = false;               // 304 / unchanged file: keep what you have
  std::optional<Json> evaluations;         // remote modes: key -> answer
  std::optional<std::string> definitions;  // definitions mode: flagd JSON text, already checked
                                           // to load (flags::load) before being returned
  std::string etag;                        // to send as If-None-Match next time ("" if none)
  // When the upstream has no ETag (flagd Connect, files, HTTP servers without one) `etag` is a
  // content hash "ff-sha256:<hex>": the upstream compares it locally (same content ->
  // not_modified) and never sends it on the wire.
};

struct FetchError {
  std::string message;
  int http_status = 0;                              // 0 when no HTTP answer
  std::optional<std::chrono::seconds> retry_after;  // 429/503 Retry-After
  bool auth = false;                                // 401/403: credentials problem
                                                    // (also: bearer token file unusable)
};

struct FetchOutcome {
  bool ok = false;
  Fetched fetched;
  FetchError error;
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  virtual Mode mode() const = 0;
  virtual std::string describe() const = 0;  // for status/logs; never includes secrets
  // One attempt for this host's `context`, sending `etag` as If-None-Match when non-empty.
  // A malformed, oversized, wrong-typed or otherwise unusable answer is an error, never a
  // partial success.
  virtual FetchOutcome fetch(const Json& context, const std::string& etag) = 0;

  // For shutdown, from any thread: an HTTP fetch in flight ends within ~100 ms with an error
  // whose message says "cancelled" (nothing adopted), and so does every later one (file reads
  // never block and are unaffected). Irreversible. Without it a stop would wait for a slow
  // upstream's whole timeout.
  void cancel() { cancelled_ = true; }

 protected:
  // Implementations pass this to http::Request::cancel.
  const std::atomic<bool>& cancel_flag() const { return cancelled_; }

 private:
  std::atomic<bool> cancelled_{false};
};

// Builds the upstream for a config. Fails on an unusable config (bad URL scheme, unreadable
// token file is NOT a failure here: it is reported per fetch).
Result<std::unique_ptr<Upstream>> make_upstream(const UpstreamConfig& config);

// flagd EventStream (Connect server-streaming over HTTP/1.1): runs until `cancel`, calling
// `on_event(type)` for every message ("provider_ready", "configuration_change", "keep_alive",
// "provider_shutdown"). Returns when the stream ends or fails (the caller reconnects with
// backoff and polls meanwhile). The returned message is never empty: "...: cancelled" after
// `cancel`, "...ended by the server[ with an error: code: message]" for an end-stream envelope,
// else what failed (HTTP status with auth/http_status set as for fetch(), transport error,
// malformed message). config.timeout bounds connecting up to the response headers; a stream
// silent for 65 s (three missed flagd keep-alives) is a timeout; messages over
// config.max_body end the stream.
FetchError run_event_stream(const UpstreamConfig& config, const std::atomic<bool>& cancel,
                            const std::function<void(const std::string& type)>& on_event);

// Backoff: exponential from `base` doubling per consecutive failure, capped at `cap`, with
// "full jitter" in [d/2, d]; `unit_random` in [0,1) is injected for tests.
// Exactly: failures == 0 -> 0; else d = min(cap, base * 2^(failures-1)) (saturating), result =
// d/2 + floor(unit_random * (d - d/2)). Non-positive base or cap -> 0; randoms are clamped to
// [0,1] (NaN -> 0).
std::chrono::milliseconds backoff_delay(std::uint32_t failures, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, double unit_random);
// Poll interval with +-`jitter_fraction` spread so 10,000 hosts do not poll in step:
// round(interval * (1 + f * (2 * unit_random - 1))) with f clamped to [0,1]; never negative.
std::chrono::milliseconds jittered_interval(std::chrono::milliseconds interval,
                                            double jitter_fraction, double unit_random);

}  // namespace ff::sync
