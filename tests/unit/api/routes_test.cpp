// Routes without sockets: every path's shape, codes and headers, from hand-built snapshots.
#include "agent/api/routes.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "agent/state/state_holder.h"
#include "tests/fakes/fake_clock.h"

namespace ff::api {
namespace {

using std::chrono::milliseconds;
constexpr std::int64_t kNow = 1'764'400'000'000;  // 2025-11-29T07:06:40.000Z

state::FlagAnswer answer(Json value, std::string variant, std::string reason) {
  state::FlagAnswer a;
  a.value = std::move(value);
  a.has_value = true;
  a.variant = std::move(variant);
  a.reason = std::move(reason);
  a.metadata = Json{{"team", "ops"}};
  a.updated_at_ms = kNow - 60'000;
  return a;
}

state::Snapshot ready_snapshot(state::Source source = state::Source::kLive) {
  state::Snapshot s;
  s.ready = true;
  s.source = source;
  s.synced_at_ms = kNow - 5'500;
  s.flags["new-ui"] = answer(true, "on", "TARGETING_MATCH");
  s.flags["color"] = answer("blue", "blue", "STATIC");
  state::FlagAnswer broken;
  broken.reason = "ERROR";
  broken.error_code = "PARSE_ERROR";
  broken.error_details = "bad targeting";
  s.flags["broken"] = broken;
  state::FlagAnswer code_default;
  code_default.reason = "DISABLED";
  s.flags["off"] = code_default;
  s.sync.mode = "ofrep";
  s.sync.upstream = "http://flagd:8016";
  s.sync.last_attempt_ms = kNow - 5'500;
  s.sync.last_success_ms = kNow - 5'500;
  s.sync.next_attempt_ms = kNow + 24'500;
  return s;
}

class FakeBackend final : public OfrepBackend {
 public:
  std::optional<Json> evaluate_all(const Json& request_context) override {
    last_context = request_context;
    if (mode == "none") return std::nullopt;
    if (mode == "throw") throw std::runtime_error("engine exploded");
    if (mode == "garbage") return Json::array();
    const bool admin = request_context.value("role", "") == "admin";
    Json out = Json{{"flags",
                     {{"admin-panel",
                       {{"value", admin},
                        {"variant", admin ? "on" : "off"},
                        {"reason", "TARGETING_MATCH"},
                        {"metadata", Json::object()}}},
                      {"bad",
                       {{"reason", "ERROR"},
                        {"errorCode", "TYPE_MISMATCH"},
                        {"errorDetails", "not a bool"},
                        {"metadata", Json::object()}}}}}};
    if (mode == "with-metadata") out["metadata"] = Json{{"flagSetId", "from-backend"}};
    return out;
  }
  std::string mode = "answer";
  Json last_context;
};

class RoutesTest : public ::testing::Test {
 protected:
  RoutesTest() : clock_(kNow) {}

  void publish(state::Snapshot s) { holder_.publish(std::move(s)); }

  Response call(std::string method, std::string target, std::string body = "",
                HeaderList headers = {}) {
    Request req{std::move(method), std::move(target), std::move(headers), std::move(body)};
    Context ctx;
    ctx.ofrep_only = ofrep_only_;
    ctx.snapshot = holder_.current();
    ctx.clock = &clock_;
    ctx.backend = backend_;
    ctx.views = &views_;
    ctx.max_wait = milliseconds(60'000);
    ctx.default_wait = milliseconds(10'000);
    return handle(req, ctx);
  }

  static Json body(const Response& r) {
    auto j = json::parse(r.body);
    EXPECT_TRUE(j.ok()) << r.body;
    return j.ok() ? *j : Json();
  }

  testing::FakeClock clock_;
  state::StateHolder holder_;
  Views views_;
  OfrepBackend* backend_ = nullptr;
  bool ofrep_only_ = false;
};

TEST_F(RoutesTest, FlagsListShapeAndHeaders) {
  publish(ready_snapshot());
  const auto r = call("GET", "/v1/flags");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Age"), "5");
  EXPECT_EQ(r.header("X-Fleetflag-Stale"), "false");
  EXPECT_EQ(r.header("X-Fleetflag-Index"), "1");
  const Json b = body(r);
  EXPECT_EQ(b["revision"], 1);
  EXPECT_EQ(b["syncedAt"], "2025-11-29T07:06:34.500Z");
  EXPECT_EQ(b["stale"], false);
  EXPECT_EQ(b["source"], "live");
  ASSERT_EQ(b["flags"].size(), 4u);
  const Json& ui = b["flags"]["new-ui"];
  EXPECT_EQ(ui["value"], true);
  EXPECT_EQ(ui["variant"], "on");
  EXPECT_EQ(ui["reason"], "TARGETING_MATCH");
  EXPECT_EQ(ui["metadata"], (Json{{"team", "ops"}}));
  EXPECT_EQ(ui["source"], "live");
  EXPECT_EQ(ui["updatedAt"], "2025-11-29T07:05:40.000Z");
  EXPECT_FALSE(ui.contains("errorCode"));
  const Json& broken = b["flags"]["broken"];
  EXPECT_FALSE(broken.contains("value"));
  EXPECT_FALSE(broken.contains("variant"));
  EXPECT_EQ(broken["errorCode"], "PARSE_ERROR");
  EXPECT_EQ(broken["errorDetails"], "bad targeting");
  EXPECT_EQ(broken["updatedAt"], nullptr);
  EXPECT_FALSE(b["flags"]["off"].contains("value"));
  EXPECT_EQ(b["flags"]["off"]["reason"], "DISABLED");
}

TEST_F(RoutesTest, StaleSnapshotHeadersAndTrailingSlash) {
  publish(ready_snapshot(state::Source::kCache));
  clock_.advance(milliseconds(100'000));
  const auto r = call("GET", "/v1/flags/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Fleetflag-Stale"), "true");
  EXPECT_EQ(r.header("Age"), "105");
  EXPECT_EQ(body(r)["source"], "cache");
  EXPECT_EQ(body(r)["stale"], true);
  EXPECT_EQ(body(r)["flags"]["color"]["source"], "cache");
}

TEST_F(RoutesTest, BlockingQueryParams) {
  publish(ready_snapshot());
  Context ctx;
  ctx.snapshot = holder_.current();
  ctx.max_wait = milliseconds(60'000);
  ctx.default_wait = milliseconds(10'000);
  auto q = blocking_query({"GET", "/v1/flags?index=7&wait=500ms", {}, ""}, ctx);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->index, 7u);
  EXPECT_EQ(q->wait, milliseconds(500));
  q = blocking_query({"GET", "/v1/flags?index=7", {}, ""}, ctx);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->wait, milliseconds(10'000));  // default_wait
  q = blocking_query({"GET", "/v1/flags?index=7&wait=1h", {}, ""}, ctx);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->wait, milliseconds(60'000));  // capped at max_wait
  EXPECT_FALSE(blocking_query({"GET", "/v1/flags", {}, ""}, ctx));
  EXPECT_FALSE(blocking_query({"GET", "/v1/flags?wait=1s", {}, ""}, ctx));
  EXPECT_FALSE(blocking_query({"GET", "/v1/flags?index=x", {}, ""}, ctx));
  EXPECT_FALSE(blocking_query({"POST", "/v1/flags?index=1", {}, ""}, ctx));
  EXPECT_FALSE(blocking_query({"GET", "/v1/status?index=1", {}, ""}, ctx));

  // handle() itself never waits: it answers the current snapshot, and 400s bad parameters.
  auto r = call("GET", "/v1/flags?index=7&wait=1s");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Fleetflag-Index"), "1");
  r = call("GET", "/v1/flags?index=-1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "bad_request");
  EXPECT_TRUE(body(r)["message"].is_string());
  EXPECT_EQ(call("GET", "/v1/flags?index=1&wait=soon").status, 400);
  EXPECT_EQ(call("GET", "/v1/flags?index=1&wait=1.5s").status, 400);
}

TEST_F(RoutesTest, OneFlag) {
  publish(ready_snapshot());
  auto r = call("GET", "/v1/flags/color");
  ASSERT_EQ(r.status, 200);
  Json b = body(r);
  EXPECT_EQ(b["key"], "color");
  EXPECT_EQ(b["value"], "blue");
  EXPECT_EQ(b["variant"], "blue");
  EXPECT_EQ(b["reason"], "STATIC");
  EXPECT_EQ(b["revision"], 1);
  EXPECT_EQ(b["stale"], false);
  EXPECT_EQ(b["source"], "live");
  EXPECT_EQ(b["syncedAt"], "2025-11-29T07:06:34.500Z");
  EXPECT_EQ(b["updatedAt"], "2025-11-29T07:05:40.000Z");
  EXPECT_EQ(r.header("X-Fleetflag-Stale"), "false");

  r = call("GET", "/v1/flags/nope");
  ASSERT_EQ(r.status, 404);
  b = body(r);
  EXPECT_EQ(b["key"], "nope");
  EXPECT_EQ(b["errorCode"], "FLAG_NOT_FOUND");
  EXPECT_TRUE(b["errorDetails"].is_string());
  EXPECT_EQ(r.header("Age"), "5");

  // Keys are percent-decoded; invalid UTF-8 in a key cannot break the JSON answer.
  EXPECT_EQ(body(call("GET", "/v1/flags/%63olor"))["key"], "color");
  r = call("GET", "/v1/flags/%ff%fe");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(json::parse(r.body).ok());
  EXPECT_EQ(call("GET", "/v1/flags/%zz").status, 400);
}

TEST_F(RoutesTest, NotReady) {
  // Revision 0, never published: no cache and no sync yet.
  for (const char* target : {"/v1/flags", "/v1/flags/color", "/v1/flags?index=0"}) {
    const auto r = call("GET", target);
    EXPECT_EQ(r.status, 503) << target;
    EXPECT_EQ(body(r)["errorCode"], "PROVIDER_NOT_READY");
    EXPECT_EQ(body(r)["errorDetails"], "no cached values and no successful sync yet");
    EXPECT_EQ(r.header("X-Fleetflag-Stale"), "true");
    EXPECT_EQ(r.header("Age"), "0");
  }
  auto r = call("POST", "/ofrep/v1/evaluate/flags", R"({"context":{}})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body(r)["errorCode"], "PROVIDER_NOT_READY");
  r = call("POST", "/ofrep/v1/evaluate/flags/color", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body(r)["key"], "color");

  r = call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body(r)["status"], "not_ready");
  EXPECT_TRUE(body(r)["reason"].is_string());
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  r = call("GET", "/v1/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["ready"], false);
  EXPECT_EQ(body(r)["cacheAgeSeconds"], nullptr);
  EXPECT_EQ(body(r)["syncedAt"], nullptr);
}

TEST_F(RoutesTest, HealthAndReady) {
  publish(ready_snapshot());
  auto r = call("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r), (Json{{"status", "ok"}}));
  r = call("GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["status"], "ready");
  EXPECT_EQ(call("HEAD", "/healthz").status, 200);
}

TEST_F(RoutesTest, StatusShapeAndExtras) {
  auto s = ready_snapshot();
  s.sync.last_error = "connect: refused";
  s.sync.consecutive_failures = 3;
  s.sync.stream_connected = true;
  publish(s);
  views_.status_extra = [] { return Json{{"pins", 2}, {"mode", "overridden"}}; };
  const auto r = call("GET", "/v1/status");
  ASSERT_EQ(r.status, 200);
  const Json b = body(r);
  EXPECT_EQ(b["ready"], true);
  EXPECT_EQ(b["upstream"], "http://flagd:8016");
  EXPECT_EQ(b["revision"], 1);
  EXPECT_EQ(b["source"], "live");
  EXPECT_EQ(b["stale"], false);
  EXPECT_EQ(b["syncedAt"], "2025-11-29T07:06:34.500Z");
  EXPECT_EQ(b["lastAttempt"], "2025-11-29T07:06:34.500Z");
  EXPECT_EQ(b["lastSuccess"], "2025-11-29T07:06:34.500Z");
  EXPECT_EQ(b["lastError"], "connect: refused");
  EXPECT_EQ(b["consecutiveFailures"], 3);
  EXPECT_EQ(b["nextAttempt"], "2025-11-29T07:07:04.500Z");
  EXPECT_EQ(b["streamConnected"], true);
  EXPECT_EQ(b["cacheAgeSeconds"], 5);
  EXPECT_EQ(b["flagCount"], 4);
  EXPECT_EQ(b["pins"], 2);
  EXPECT_EQ(b["mode"], "overridden");  // extras are merged last

  views_.status_extra = []() -> Json { throw std::runtime_error("ops down"); };
  const auto r2 = call("GET", "/v1/status");
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(body(r2)["statusExtraError"], "ops down");
  EXPECT_EQ(body(r2)["mode"], "ofrep");
}

TEST_F(RoutesTest, ContextAndMetricsViews) {
  publish(ready_snapshot());
  EXPECT_EQ(call("GET", "/v1/context").status, 404);
  EXPECT_EQ(call("GET", "/metrics").status, 404);
  views_.context = [] { return Json{{"targetingKey", "abc"}, {"sources", {{"os", "facts"}}}}; };
  views_.metrics = [] { return std::string("fleetflag_up 1\n"); };
  auto r = call("GET", "/v1/context");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["targetingKey"], "abc");
  r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "fleetflag_up 1\n");
  EXPECT_EQ(r.header("X-Fleetflag-Stale"), "false");

  views_.context = []() -> Json { throw std::runtime_error("boom"); };
  r = call("GET", "/v1/context");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body(r)["error"], "internal");
  EXPECT_EQ(r.header("X-Fleetflag-Index"), "1");
}

TEST_F(RoutesTest, UnknownPathAndWrongMethod) {
  publish(ready_snapshot());
  auto r = call("GET", "/v2/flags");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body(r)["error"], "not_found");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  r = call("DELETE", "/v1/flags");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");
  EXPECT_EQ(body(r)["error"], "method_not_allowed");
  EXPECT_EQ(call("POST", "/v1/flags/color").status, 405);
  EXPECT_EQ(call("PUT", "/v1/status").status, 405);
  r = call("GET", "/ofrep/v1/evaluate/flags");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "POST");
  EXPECT_EQ(call("GET", "/ofrep/v1/evaluate/flags/color").status, 405);
  EXPECT_EQ(call("GET", "*").status, 400);
}

TEST_F(RoutesTest, OfrepBulkFromSnapshot) {
  publish(ready_snapshot());
  auto r = call("POST", "/ofrep/v1/evaluate/flags", R"({"context":{"targetingKey":"u1"}})");
  ASSERT_EQ(r.status, 200);
  const Json b = body(r);
  ASSERT_TRUE(b["flags"].is_array());
  ASSERT_EQ(b["flags"].size(), 4u);
  EXPECT_EQ(b["metadata"], Json::object());
  // Sorted by key: broken, color, new-ui, off.
  EXPECT_EQ(b["flags"][0], (Json{{"key", "broken"},
                                 {"errorCode", "PARSE_ERROR"},
                                 {"errorDetails", "bad targeting"},
                                 {"metadata", Json::object()}}));
  EXPECT_EQ(b["flags"][1], (Json{{"key", "color"},
                                 {"value", "blue"},
                                 {"variant", "blue"},
                                 {"reason", "STATIC"},
                                 {"metadata", {{"team", "ops"}}}}));
  // Code default (ADR-0006): no value, no variant.
  EXPECT_EQ(b["flags"][3],
            (Json{{"key", "off"}, {"reason", "DISABLED"}, {"metadata", Json::object()}}));

  const auto etag = r.header("ETag");
  ASSERT_TRUE(etag);
  EXPECT_EQ(*etag, strong_etag(r.body));

  // Same body -> 304 with the tag and no body; a different tag -> 200.
  r = call("POST", "/ofrep/v1/evaluate/flags", "", {{"If-None-Match", *etag}});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("ETag"), etag);
  EXPECT_FALSE(r.header("Content-Type"));
  EXPECT_EQ(r.header("X-Fleetflag-Index"), "1");
  r = call("POST", "/ofrep/v1/evaluate/flags/", "{}", {{"If-None-Match", "\"other\""}});
  EXPECT_EQ(r.status, 200);

  // A new snapshot with a changed answer changes the tag.
  auto s = ready_snapshot();
  s.flags["color"] = answer("red", "red", "STATIC");
  publish(s);
  r = call("POST", "/ofrep/v1/evaluate/flags", "{}", {{"If-None-Match", *etag}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("ETag"), etag);
}

TEST_F(RoutesTest, OfrepInvalidContext) {
  publish(ready_snapshot());
  for (const char* bad : {"not json", "[]", R"({"context":[]})", R"({"context":"x"})",
                          R"({"context":{"targetingKey":5}})", "{\"context\":{"}) {
    auto r = call("POST", "/ofrep/v1/evaluate/flags", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(body(r)["errorCode"], "INVALID_CONTEXT") << bad;
    EXPECT_TRUE(body(r)["errorDetails"].is_string());
    EXPECT_FALSE(body(r).contains("key"));
    r = call("POST", "/ofrep/v1/evaluate/flags/color", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(body(r)["key"], "color");
    EXPECT_EQ(body(r)["errorCode"], "INVALID_CONTEXT");
  }
  // Too deep for the parser's depth limit.
  const std::string deep =
      R"({"context":{"a":)" + std::string(100, '[') + std::string(100, ']') + "}}";
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags", deep).status, 400);
  // Accepted like flagd: empty body, whitespace, no context, null context.
  for (const char* ok : {"", "  \n", "{}", R"({"context":null})", R"({"context":{}})"}) {
    EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags", ok).status, 200) << ok;
  }
}

TEST_F(RoutesTest, OfrepSingleFromSnapshot) {
  publish(ready_snapshot());
  auto r = call("POST", "/ofrep/v1/evaluate/flags/new-ui", R"({"context":{"targetingKey":"h"}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r), (Json{{"key", "new-ui"},
                           {"value", true},
                           {"variant", "on"},
                           {"reason", "TARGETING_MATCH"},
                           {"metadata", {{"team", "ops"}}}}));
  EXPECT_FALSE(r.header("ETag"));
  r = call("POST", "/ofrep/v1/evaluate/flags/broken", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["errorCode"], "PARSE_ERROR");
  EXPECT_EQ(body(r)["key"], "broken");
  r = call("POST", "/ofrep/v1/evaluate/flags/missing", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body(r)["key"], "missing");
  EXPECT_EQ(body(r)["errorCode"], "FLAG_NOT_FOUND");
  EXPECT_TRUE(body(r)["errorDetails"].is_string());
}

TEST_F(RoutesTest, OfrepBackendAnswersForTheRequestContext) {
  publish(ready_snapshot());
  FakeBackend backend;
  backend_ = &backend;
  auto r = call("POST", "/ofrep/v1/evaluate/flags/admin-panel",
                R"({"context":{"targetingKey":"u1","role":"admin"}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(backend.last_context, (Json{{"targetingKey", "u1"}, {"role", "admin"}}));
  EXPECT_EQ(body(r)["value"], true);
  EXPECT_EQ(body(r)["variant"], "on");
  r = call("POST", "/ofrep/v1/evaluate/flags/admin-panel", R"({"context":{"targetingKey":"u2"}})");
  EXPECT_EQ(body(r)["value"], false);
  r = call("POST", "/ofrep/v1/evaluate/flags/bad", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["errorCode"], "TYPE_MISMATCH");
  // The snapshot's flags are not consulted when the backend answers.
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags/color", "{}").status, 404);

  r = call("POST", "/ofrep/v1/evaluate/flags", R"({"context":{"role":"admin"}})");
  ASSERT_EQ(r.status, 200);
  const Json b = body(r);
  ASSERT_EQ(b["flags"].size(), 2u);
  EXPECT_EQ(b["flags"][0]["key"], "admin-panel");
  EXPECT_EQ(b["flags"][0]["value"], true);
  EXPECT_EQ(b["flags"][1]["errorCode"], "TYPE_MISMATCH");
  // Different contexts give different bodies, hence different tags: no 304 across contexts.
  const auto other = call("POST", "/ofrep/v1/evaluate/flags", R"({"context":{"role":"x"}})",
                          {{"If-None-Match", *r.header("ETag")}});
  EXPECT_EQ(other.status, 200);

  // nullopt from the backend: the host's answers from the snapshot.
  backend.mode = "none";
  EXPECT_EQ(body(call("POST", "/ofrep/v1/evaluate/flags/color", "{}"))["value"], "blue");

  backend.mode = "throw";
  r = call("POST", "/ofrep/v1/evaluate/flags", "{}");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(json::parse(r.body).ok());
  backend.mode = "garbage";
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags/x", "{}").status, 500);
}

// The bulk answer's top-level metadata is the flag-set metadata: the snapshot's, or the
// backend's when it evaluated and says (flagd: set metadata, as in the definitions).
TEST_F(RoutesTest, OfrepBulkCarriesFlagSetMetadata) {
  auto s = ready_snapshot();
  s.flag_set_metadata = Json{{"flagSetId", "fleet"}, {"version", "v12"}};
  publish(s);
  auto r = call("POST", "/ofrep/v1/evaluate/flags", "{}");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["metadata"], (Json{{"flagSetId", "fleet"}, {"version", "v12"}}));
  // Single-flag answers carry only the flag's own (merged) metadata, as before.
  EXPECT_EQ(body(call("POST", "/ofrep/v1/evaluate/flags/color", "{}"))["metadata"],
            (Json{{"team", "ops"}}));

  FakeBackend backend;
  backend_ = &backend;
  EXPECT_EQ(body(call("POST", "/ofrep/v1/evaluate/flags", "{}"))["metadata"],
            (Json{{"flagSetId", "fleet"}, {"version", "v12"}}));
  backend.mode = "with-metadata";
  EXPECT_EQ(body(call("POST", "/ofrep/v1/evaluate/flags", "{}"))["metadata"],
            (Json{{"flagSetId", "from-backend"}}));

  // A metadata value that is not an object never reaches the wire.
  s.flag_set_metadata = Json::array();
  publish(s);
  backend.mode = "none";
  EXPECT_EQ(body(call("POST", "/ofrep/v1/evaluate/flags", "{}"))["metadata"], Json::object());
}

// What the loopback TCP listener (ofrep_only) serves: OFREP and the probes; the rest is 404.
TEST_F(RoutesTest, OfrepOnlyServesOfrepAndProbes) {
  publish(ready_snapshot());
  views_.status_extra = [] { return Json::object(); };
  views_.context = [] { return Json{{"targetingKey", "host"}}; };
  views_.metrics = [] { return std::string("x 1\n"); };
  ofrep_only_ = true;
  for (const char* path :
       {"/v1/flags", "/v1/flags/", "/v1/flags/color", "/v1/flags?index=1", "/v1/status",
        "/v1/context", "/metrics", "/", "/ofrep/v1/evaluate", "/ofrep/v1/evaluate/flagsX"}) {
    for (const char* method : {"GET", "HEAD", "POST"}) {
      const auto r = call(method, path, "{}");
      EXPECT_EQ(r.status, 404) << method << " " << path;
      EXPECT_EQ(body(r)["error"], "not_found") << method << " " << path;
      EXPECT_EQ(r.header("Content-Type"), "application/json");
    }
  }
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_EQ(call("POST", "/healthz").status, 405);
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags", "{}").status, 200);
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags/", "{}").status, 200);
  EXPECT_EQ(body(call("POST", "/ofrep/v1/evaluate/flags/color", "{}"))["value"], "blue");
  EXPECT_EQ(call("GET", "/ofrep/v1/evaluate/flags/color").status, 405);

  Context ctx;
  ctx.snapshot = holder_.current();
  ctx.ofrep_only = true;
  EXPECT_FALSE(blocking_query(Request{"GET", "/v1/flags?index=1&wait=5s", {}, ""}, ctx));
  ctx.ofrep_only = false;
  EXPECT_TRUE(blocking_query(Request{"GET", "/v1/flags?index=1&wait=5s", {}, ""}, ctx));
}

TEST_F(RoutesTest, BackendAnswersEvenBeforeTheSnapshotIsReady) {
  FakeBackend backend;
  backend_ = &backend;
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags/admin-panel", "{}").status, 200);
  backend.mode = "none";
  EXPECT_EQ(call("POST", "/ofrep/v1/evaluate/flags/admin-panel", "{}").status, 503);
}

TEST_F(RoutesTest, HostileInputsNeverThrow) {
  publish(ready_snapshot());
  const std::string weird[] = {"",
                               "/",
                               "//",
                               "/v1/flags/\xff",
                               "/v1/flags?\xff=\xfe",
                               "/ofrep/v1/evaluate/flags/%",
                               std::string("/v1/\0x", 6),
                               "http://",
                               "https://h",
                               "/v1/flags?index=99999999999999999999"};
  for (const auto& t : weird) {
    for (const char* m : {"GET", "POST", "HEAD", "", "G\x01T"}) {
      const auto r = call(m, t, "\xff\xfe{");
      EXPECT_GE(r.status, 200);
      EXPECT_TRUE(r.body.empty() || json::parse(r.body).ok()) << t;
    }
  }
}

TEST(RequestFromBytes, SplitsLeniently) {
  auto r = request_from_bytes("POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nA: 1\r\nB:2\r\n\r\n{}");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/ofrep/v1/evaluate/flags");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.header("a"), "1");
  EXPECT_EQ(r.header("B"), "2");
  EXPECT_EQ(r.body, "{}");
  r = request_from_bytes("GET /healthz\nX\n\nbody\nmore");
  EXPECT_EQ(r.target, "/healthz");
  EXPECT_EQ(r.header("X"), "");
  EXPECT_EQ(r.body, "body\nmore");
  r = request_from_bytes("");
  EXPECT_EQ(r.method, "");
  EXPECT_EQ(r.target, "");
}

}  // namespace
}  // namespace ff::api
