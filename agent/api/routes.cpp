#include "agent/api/routes.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <stdexcept>
#include <utility>

namespace ff::api {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kNotReadyDetails = "no cached values and no successful sync yet";
constexpr const char* kGetAllow = "GET, HEAD";

// Untrusted strings (flag keys from the URL, values from upstreams) may hold invalid UTF-8;
// replacing it keeps dump() from throwing.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Response json_response(int status, const Json& body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", kJson);
  r.body = dump(body);
  return r;
}

const state::Snapshot& snapshot_of(const Context& ctx) {
  static const state::Snapshot kEmpty;
  return ctx.snapshot ? *ctx.snapshot : kEmpty;
}

bool is_stale(const state::Snapshot& s) {
  return s.source != state::Source::kLive;
}

std::int64_t now_ms(const Context& ctx) {
  return ctx.clock ? ctx.clock->now_unix_ms() : 0;
}

Json time_or_null(std::int64_t unix_ms) {
  if (unix_ms <= 0) return nullptr;
  return rfc3339_utc(unix_ms);
}

// Seconds since the last successful sync; nullopt when there never was one.
std::optional<std::int64_t> cache_age_s(const Context& ctx, const state::Snapshot& s) {
  if (s.synced_at_ms <= 0) return std::nullopt;
  const std::int64_t age = now_ms(ctx) - s.synced_at_ms;
  return age > 0 ? age / 1000 : 0;
}

}  // namespace

std::int64_t age_seconds(std::int64_t now_ms, std::int64_t synced_at_ms) {
  if (synced_at_ms <= 0 || now_ms <= synced_at_ms) return 0;
  return (now_ms - synced_at_ms) / 1000;
}

void add_state_headers(Response& r, const Context& ctx) {
  const auto& s = snapshot_of(ctx);
  r.headers.emplace_back("Age", std::to_string(age_seconds(now_ms(ctx), s.synced_at_ms)));
  r.headers.emplace_back("X-Fleetflag-Stale", is_stale(s) ? "true" : "false");
  r.headers.emplace_back("X-Fleetflag-Index", std::to_string(s.revision));
}

namespace {

Response method_not_allowed(std::string_view allow) {
  Response r = error_response(405, "method_not_allowed", "method not allowed for this path");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

Response not_ready(const std::string* key) {
  Json body = Json::object();
  if (key) body["key"] = *key;
  body["errorCode"] = "PROVIDER_NOT_READY";
  body["errorDetails"] = kNotReadyDetails;
  Response r = json_response(503, body);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response flag_not_found(const std::string& key) {
  return json_response(404, Json{{"key", key},
                                 {"errorCode", "FLAG_NOT_FOUND"},
                                 {"errorDetails", "flag '" + key + "' was not found"}});
}

// The agent's canonical answer shape (agent/sync/upstream.h).
Json answer_json(const state::FlagAnswer& a) {
  Json j = Json::object();
  if (a.has_value) j["value"] = a.value;
  if (a.variant) j["variant"] = *a.variant;
  j["reason"] = a.reason;
  if (a.error_code) {
    j["errorCode"] = *a.error_code;
    j["errorDetails"] = a.error_details;
  } else if (!a.error_details.empty()) {
    j["errorDetails"] = a.error_details;
  }
  j["metadata"] = a.metadata.is_object() ? a.metadata : Json::object();
  return j;
}

// The /v1 flag object: the canonical answer plus where it came from and when it changed.
Json v1_flag(const state::FlagAnswer& a, const state::Snapshot& s) {
  Json j = answer_json(a);
  j["source"] = state::to_string(s.source);
  j["updatedAt"] = time_or_null(a.updated_at_ms);
  return j;
}

bool has_error(const Json& answer) {
  return answer.is_object() && answer.contains("errorCode") && answer["errorCode"].is_string();
}

// A canonical answer as an OFREP evaluationSuccess / evaluationFailure item.
Json to_ofrep(const std::string& key, const Json& answer) {
  Json out = Json::object();
  out["key"] = key;
  const Json empty = Json::object();
  const Json& a = answer.is_object() ? answer : empty;
  const auto meta = a.find("metadata");
  const Json metadata = (meta != a.end() && meta->is_object()) ? *meta : Json::object();
  if (has_error(a)) {
    out["errorCode"] = a["errorCode"];
    const auto details = a.find("errorDetails");
    out["errorDetails"] = (details != a.end() && details->is_string()) ? *details : Json("");
    out["metadata"] = metadata;
    return out;
  }
  const auto reason = a.find("reason");
  out["reason"] = (reason != a.end() && reason->is_string()) ? *reason : Json("UNKNOWN");
  if (const auto v = a.find("variant"); v != a.end() && v->is_string()) out["variant"] = *v;
  if (const auto v = a.find("value"); v != a.end()) out["value"] = *v;
  out["metadata"] = metadata;
  return out;
}

int ofrep_status(const Json& item) {
  if (!has_error(item)) return 200;
  return item["errorCode"] == "FLAG_NOT_FOUND" ? 404 : 400;
}

// The evaluation context of an OFREP request body. Like flagd, an empty body (or no
// "context") means an empty context; anything else that is not {"context": {...}} is
// INVALID_CONTEXT.
Result<Json> ofrep_context(const Request& req, const Context& ctx) {
  std::string_view body = req.body;
  while (!body.empty() && (body.front() == ' ' || body.front() == '\t' || body.front() == '\r' ||
                           body.front() == '\n')) {
    body.remove_prefix(1);
  }
  if (body.empty()) return Json(Json::object());
  json::Limits limits;
  limits.max_bytes = req.body.size() + 1;
  limits.max_depth = ctx.max_json_depth;
  auto parsed = json::parse(req.body, limits);
  if (!parsed)
    return Error{"INVALID_CONTEXT", "invalid request body: " + parsed.error().message, ""};
  if (!parsed->is_object())
    return Error{"INVALID_CONTEXT", "request body must be a JSON object", ""};
  const auto it = parsed->find("context");
  if (it == parsed->end() || it->is_null()) return Json(Json::object());
  if (!it->is_object()) return Error{"INVALID_CONTEXT", "context must be a JSON object", ""};
  if (const auto tk = it->find("targetingKey"); tk != it->end() && !tk->is_string()) {
    return Error{"INVALID_CONTEXT", "targetingKey must be a string", ""};
  }
  return Json(std::move(*it));
}

// Answers for the request context from the backend: {"flags": key -> canonical answer,
// "metadata"?: flag-set metadata}, or nullopt when there is no backend or it has no answer for
// this context. A malformed backend answer is an internal error (the caller turns the
// exception into a 500).
std::optional<Json> backend_answers(Context& ctx, const Json& request_context) {
  if (!ctx.backend) return std::nullopt;
  auto result = ctx.backend->evaluate_all(request_context);
  if (!result) return std::nullopt;
  if (!result->is_object() || !result->contains("flags") || !(*result)["flags"].is_object()) {
    throw std::runtime_error("OFREP backend returned an answer without a \"flags\" object");
  }
  return result;
}

// The bulk answer's top-level `metadata`: the flag-set metadata of whoever evaluated (the
// backend when it says, else the snapshot's).
Json set_metadata(const Json* backend_result, const state::Snapshot& s) {
  if (backend_result != nullptr) {
    const auto it = backend_result->find("metadata");
    if (it != backend_result->end() && it->is_object()) return *it;
  }
  return s.flag_set_metadata.is_object() ? s.flag_set_metadata : Json::object();
}

Response ofrep_bulk(const Request& req, Context& ctx) {
  const auto& s = snapshot_of(ctx);
  auto context = ofrep_context(req, ctx);
  if (!context) {
    return json_response(
        400, Json{{"errorCode", context.error().code}, {"errorDetails", context.error().message}});
  }
  Json flags = Json::array();
  const auto result = backend_answers(ctx, *context);
  if (result) {
    for (const auto& [key, answer] : (*result)["flags"].items()) {
      flags.push_back(to_ofrep(key, answer));
    }
  } else {
    if (!s.ready) return not_ready(nullptr);
    for (const auto& [key, answer] : s.flags) flags.push_back(to_ofrep(key, answer_json(answer)));
  }
  Json body = Json::object();
  body["flags"] = std::move(flags);
  body["metadata"] = set_metadata(result ? &*result : nullptr, s);
  Response r = json_response(200, body);
  const std::string etag = strong_etag(r.body);
  r.headers.emplace_back("ETag", etag);
  if (const auto inm = req.header("If-None-Match"); inm && if_none_match_matches(*inm, etag)) {
    r.status = 304;
    r.body.clear();
    r.headers.erase(r.headers.begin());  // no Content-Type without a body
  }
  return r;
}

Response ofrep_single(const Request& req, Context& ctx, const std::string& key) {
  const auto& s = snapshot_of(ctx);
  auto context = ofrep_context(req, ctx);
  if (!context) {
    return json_response(400, Json{{"key", key},
                                   {"errorCode", context.error().code},
                                   {"errorDetails", context.error().message}});
  }
  if (auto result = backend_answers(ctx, *context)) {
    const Json& answers = (*result)["flags"];
    const auto it = answers.find(key);
    if (it == answers.end()) return flag_not_found(key);
    Json item = to_ofrep(key, *it);
    return json_response(ofrep_status(item), item);
  }
  if (!s.ready) return not_ready(&key);
  const auto it = s.flags.find(key);
  if (it == s.flags.end()) return flag_not_found(key);
  Json item = to_ofrep(key, answer_json(it->second));
  return json_response(ofrep_status(item), item);
}

// Checks ?index= and ?wait= (the blocking part itself is the server's); nullopt when valid.
std::optional<Response> check_blocking_params(const Target& t) {
  if (const auto index = query_param(t, "index"); index && !parse_index(*index)) {
    return error_response(400, "bad_request", "index must be a non-negative integer");
  }
  if (const auto wait = query_param(t, "wait"); wait && !parse_wait(*wait)) {
    return error_response(400, "bad_request",
                          "wait must be a whole number with unit ms, s, m or h (at most 24h)");
  }
  return std::nullopt;
}

Response flags_list(const Target& t, const Context& ctx) {
  if (auto bad = check_blocking_params(t)) return std::move(*bad);
  const auto& s = snapshot_of(ctx);
  if (!s.ready) return not_ready(nullptr);
  Json flags = Json::object();
  for (const auto& [key, answer] : s.flags) flags[key] = v1_flag(answer, s);
  Json body = Json::object();
  body["revision"] = s.revision;
  body["syncedAt"] = time_or_null(s.synced_at_ms);
  body["stale"] = is_stale(s);
  body["source"] = state::to_string(s.source);
  body["flags"] = std::move(flags);
  return json_response(200, body);
}

Response flag_one(const std::string& key, const Context& ctx) {
  const auto& s = snapshot_of(ctx);
  if (!s.ready) return not_ready(nullptr);
  const auto it = s.flags.find(key);
  if (it == s.flags.end()) return flag_not_found(key);
  Json body = v1_flag(it->second, s);
  body["key"] = key;
  body["revision"] = s.revision;
  body["stale"] = is_stale(s);
  body["syncedAt"] = time_or_null(s.synced_at_ms);
  return json_response(200, body);
}

Response status(const Context& ctx) {
  const auto& s = snapshot_of(ctx);
  Json body = Json::object();
  body["ready"] = s.ready;
  body["mode"] = s.sync.mode;
  body["upstream"] = s.sync.upstream;
  body["revision"] = s.revision;
  body["source"] = state::to_string(s.source);
  body["stale"] = is_stale(s);
  body["syncedAt"] = time_or_null(s.synced_at_ms);
  body["lastAttempt"] = time_or_null(s.sync.last_attempt_ms);
  body["lastSuccess"] = time_or_null(s.sync.last_success_ms);
  body["lastError"] = s.sync.last_error.empty() ? Json(nullptr) : Json(s.sync.last_error);
  body["consecutiveFailures"] = s.sync.consecutive_failures;
  body["nextAttempt"] = time_or_null(s.sync.next_attempt_ms);
  body["streamConnected"] = s.sync.stream_connected;
  const auto age = cache_age_s(ctx, s);
  body["cacheAgeSeconds"] = age ? Json(*age) : Json(nullptr);
  body["flagCount"] = s.flags.size();
  if (ctx.views && ctx.views->status_extra) {
    // Extras come from other components; a failing one must not take the status page down.
    try {
      Json extra = ctx.views->status_extra();
      if (extra.is_object()) {
        for (auto& [k, v] : extra.items()) body[k] = v;
      }
    } catch (const std::exception& e) {
      body["statusExtraError"] = e.what();
    }
  }
  return json_response(200, body);
}

Response context_view(const Context& ctx) {
  if (!ctx.views || !ctx.views->context) {
    return error_response(404, "not_found", "no context view in this agent");
  }
  return json_response(200, ctx.views->context());
}

Response metrics(const Context& ctx) {
  if (!ctx.views || !ctx.views->metrics) {
    return error_response(404, "not_found", "metrics are not enabled");
  }
  Response r;
  r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = ctx.views->metrics();
  return r;
}

Response readyz(const Context& ctx) {
  if (snapshot_of(ctx).ready) return json_response(200, Json{{"status", "ready"}});
  return json_response(503, Json{{"status", "not_ready"}, {"reason", kNotReadyDetails}});
}

// What the loopback TCP listener serves: OFREP and the health probes. The local API (/v1/*,
// /metrics) stays on the Unix socket, whose file permissions are its access control.
bool is_ofrep_listener_path(std::string_view path) {
  return path == "/ofrep/v1/evaluate/flags" || path.starts_with("/ofrep/v1/evaluate/flags/") ||
         path == "/healthz" || path == "/readyz";
}

bool is_get(const Request& req) {
  return req.method == "GET" || req.method == "HEAD";
}

Response route(const Request& req, Context& ctx) {
  const auto target = parse_target(req.target);
  if (!target) return error_response(400, "bad_request", "malformed request target");
  const std::string& path = target->path;

  constexpr std::string_view kFlags = "/v1/flags";
  constexpr std::string_view kOfrep = "/ofrep/v1/evaluate/flags";
  if (ctx.ofrep_only && !is_ofrep_listener_path(path)) {
    return error_response(404, "not_found", "only the OFREP API is served on this listener");
  }
  if (path == kFlags || path == "/v1/flags/") {
    return is_get(req) ? flags_list(*target, ctx) : method_not_allowed(kGetAllow);
  }
  if (path.starts_with("/v1/flags/")) {
    if (!is_get(req)) return method_not_allowed(kGetAllow);
    const auto key = percent_decode(std::string_view(path).substr(kFlags.size() + 1), false);
    if (!key) return error_response(400, "bad_request", "malformed percent-encoding in key");
    return flag_one(*key, ctx);
  }
  if (path == kOfrep || path == "/ofrep/v1/evaluate/flags/") {
    return req.method == "POST" ? ofrep_bulk(req, ctx) : method_not_allowed("POST");
  }
  if (path.starts_with("/ofrep/v1/evaluate/flags/")) {
    if (req.method != "POST") return method_not_allowed("POST");
    const auto key = percent_decode(std::string_view(path).substr(kOfrep.size() + 1), false);
    if (!key) return error_response(400, "bad_request", "malformed percent-encoding in key");
    return ofrep_single(req, ctx, *key);
  }

  using Handler = Response (*)(const Context&);
  static const std::pair<std::string_view, Handler> kGetRoutes[] = {
      {"/v1/status", &status},
      {"/v1/context", &context_view},
      {"/metrics", &metrics},
      {"/healthz",
       [](const Context&) {
         return json_response(200, Json{{"status", "ok"}});
       }},
      {"/readyz", &readyz},
  };
  for (const auto& [p, fn] : kGetRoutes) {
    if (path == p) return is_get(req) ? fn(ctx) : method_not_allowed(kGetAllow);
  }
  return error_response(404, "not_found", "no such path");
}

}  // namespace

Response error_response(int status, std::string_view code, std::string_view message) {
  return json_response(status, Json{{"error", code}, {"message", message}});
}

Response handle(const Request& req, Context& ctx) {
  Response r;
  try {
    r = route(req, ctx);
  } catch (const std::exception& e) {
    r = error_response(500, "internal", e.what());
  } catch (...) {
    r = error_response(500, "internal", "unknown error");
  }
  try {
    add_state_headers(r, ctx);
  } catch (...) {
    // Only allocation can fail here; the answer itself is still right.
  }
  return r;
}

Request request_from_bytes(std::string_view bytes) {
  Request req;
  auto next_line = [&bytes]() {
    const auto nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    bytes = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  std::string_view first = next_line();
  const auto sp = first.find(' ');
  req.method = std::string(first.substr(0, sp));
  if (sp != std::string_view::npos) {
    first = first.substr(sp + 1);
    req.target = std::string(first.substr(0, first.find(' ')));
  }
  while (!bytes.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    const auto colon = line.find(':');
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  req.body = std::string(bytes);
  return req;
}

std::optional<BlockingQuery> blocking_query(const Request& req, const Context& ctx) {
  if (!is_get(req) || ctx.ofrep_only) return std::nullopt;
  const auto target = parse_target(req.target);
  if (!target || (target->path != "/v1/flags" && target->path != "/v1/flags/")) {
    return std::nullopt;
  }
  const auto index_text = query_param(*target, "index");
  if (!index_text) return std::nullopt;
  const auto index = parse_index(*index_text);
  if (!index) return std::nullopt;
  std::chrono::milliseconds wait = ctx.default_wait;
  if (const auto wait_text = query_param(*target, "wait")) {
    const auto parsed = parse_wait(*wait_text);
    if (!parsed) return std::nullopt;
    wait = *parsed;
  }
  return BlockingQuery{*index, std::min(wait, ctx.max_wait)};
}

}  // namespace ff::api
