// Request routing and JSON building for the local API, without sockets: the server (Beast, in
// server.cpp) turns bytes into a Request, calls handle(), and writes the Response. Tests and
// the fuzz target call handle() directly.
//
// Routes (shapes in shared/design/ARCHITECTURE.md "Socket API"; every response carries
// `Age`, `X-Fleetflag-Stale` and `X-Fleetflag-Index`):
//   GET /v1/flags[?index=N&wait=30s]   all flags (blocking query: see blocking_query())
//   GET /v1/flags/{key}                one flag; 404 FLAG_NOT_FOUND
//   POST /ofrep/v1/evaluate/flags[/{key}]   OFREP (bulk ETag / If-None-Match -> 304)
//   GET /v1/status, /v1/context, /metrics, /healthz, /readyz
// GET routes also answer HEAD (the server drops the body). Unknown path: 404; known path with
// another method: 405 with Allow.
//
// Not ready (snapshot.ready == false: no cache and no successful sync yet): flag reads answer
// 503 {"errorCode":"PROVIDER_NOT_READY","errorDetails":...} (the OFREP single-flag form adds
// "key"), /readyz answers 503; status, health, context and metrics are always served.
//
// OFREP bulk answers carry the flag-set metadata at the top level: the backend's "metadata"
// when it returns one, else the snapshot's flag_set_metadata.
//
// OFREP answers come from the OfrepBackend when one is set and it returns a value for the
// request's context (definitions mode: real evaluation of the caller's context). Otherwise they
// are this host's answers from the snapshot and the request context is only validated, not used
// (remote modes: the upstream evaluated the host's context).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/api/http_util.h"
#include "agent/api/server.h"
#include "agent/state/clock.h"
#include "agent/state/snapshot.h"

namespace ff::api {

struct Request {
  std::string method;  // as sent ("GET", "POST", ...)
  std::string target;  // request target ("/v1/flags?index=3")
  HeaderList headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

struct Response {
  int status = 200;
  HeaderList headers;  // Content-Type and the Age/stale/index headers; no Content-Length
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// Everything handle() reads. Thread-safety: handle() only reads the context; `backend` and the
// `views` callbacks are called from the server's io threads and must be safe for that.
struct Context {
  state::SnapshotPtr snapshot;   // the answer set to serve; null is treated as "not ready"
  const Clock* clock = nullptr;  // for Age and cache age; null reads as time 0
  OfrepBackend* backend = nullptr;
  const Views* views = nullptr;
  std::chrono::milliseconds max_wait{300000};
  std::chrono::milliseconds default_wait{30000};
  std::size_t max_json_depth = 64;  // OFREP request bodies
  // The request came over the loopback TCP listener: only the OFREP routes, /healthz and
  // /readyz are served; every other path is 404 (JSON error) and no blocking query starts.
  bool ofrep_only = false;
};

// Answers a request from ctx.snapshot. Never throws (a throwing backend or view becomes a 500)
// and never blocks: blocking queries are the server's job (blocking_query()).
Response handle(const Request& req, Context& ctx);

// Splits raw bytes into a Request without validating anything: the first line is
// "METHOD TARGET [VERSION]", then "Name: value" header lines up to an empty line, the rest is
// the body ("\r\n" or "\n" line ends). For fuzzing handle() from bytes and for tests; the
// server parses with Beast instead.
Request request_from_bytes(std::string_view bytes);

// A blocking query: GET/HEAD /v1/flags with a valid `index` (and an optional valid `wait`).
struct BlockingQuery {
  std::uint64_t index = 0;
  std::chrono::milliseconds wait{0};  // min(wait or ctx.default_wait, ctx.max_wait)
};

// Consul semantics: the server answers at once when the current revision > index, otherwise
// once a newer snapshot is published or after `wait`, whichever comes first, by calling
// handle() with the snapshot current at that moment. nullopt when `req` is not a blocking
// query or its parameters are invalid (handle() answers those with 400).
std::optional<BlockingQuery> blocking_query(const Request& req, const Context& ctx);

// Adds the headers every answer carries: `Age` (whole seconds since the snapshot's last
// successful sync, 0 when there never was one), `X-Fleetflag-Stale` (source != live) and
// `X-Fleetflag-Index` (the snapshot revision). handle() calls it; the server uses it for the
// protocol errors it answers itself (400, 413, 431, 503).
void add_state_headers(Response& r, const Context& ctx);

// The `Age` value: whole seconds from `synced_at_ms` to `now_ms`, 0 when there never was a sync
// (synced_at_ms <= 0) or the clock is behind it.
std::int64_t age_seconds(std::int64_t now_ms, std::int64_t synced_at_ms);

// The JSON error body used for protocol-level errors: {"error": code, "message": message}.
Response error_response(int status, std::string_view code, std::string_view message);

}  // namespace ff::api
