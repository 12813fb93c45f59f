// The agent's side of the host context: time windows that move at minute boundaries, context
// changes (reload, providers) that bump the revision and re-evaluate or re-sync at once, the
// cache key without time fields, EventStream status, and canary fatigue (no self-flip, restarts
// on a real SQLite file, window expiry, remote modes). Driven by hand with a FakeClock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "agent/app/agent.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_context.h"
#include "tests/fakes/memory_store.h"
#include "tests/unit/app/scripted_upstream.h"

namespace ff::app {
namespace {

using namespace std::chrono_literals;
using ff::testing::definitions;
using ff::testing::evaluations;
using ff::testing::failure;
using ff::testing::FakeClock;
using ff::testing::FakeContextBuilder;
using ff::testing::MemoryStore;
using ff::testing::ScriptedUpstream;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ffctx.XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p != nullptr ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories(std::filesystem::path(file(name)).parent_path());
    std::ofstream(file(name)) << text;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::chrono::system_clock::time_point at_unix_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

// Tuesday 2025-12-02 08:59:30 in Paris (UTC+1 in winter).
constexpr std::int64_t kTue0859_30Paris = 1'764'662'370'000;
// Tuesday 2025-12-02 10:00:00 UTC.
constexpr std::int64_t kTue1000Utc = 1'764'669'600'000;

// Open Tuesday to Thursday, 09:00-17:00 local time.
const char* kChangeWindow = R"({"flags":{
  "window": {"state":"ENABLED","variants":{"open":true,"closed":false},"defaultVariant":"closed",
    "targeting":{"if":[{"and":[{"in":[{"var":"time.weekday"},["tue","wed","thu"]]},
                               {">=":[{"var":"time.hour"},9]},{"<":[{"var":"time.hour"},17]}]},
                       "open","closed"]}},
  "tiered": {"state":"ENABLED","variants":{"yes":true,"no":false},"defaultVariant":"no",
    "targeting":{"if":[{"==":[{"var":"tier"},"paying"]},"yes","no"]}}
}})";

struct Rig {
  FakeClock clock{kTue1000Utc};
  ScriptedUpstream* upstream = nullptr;
  std::unique_ptr<Agent> agent;

  void start(sync::Mode mode, std::unique_ptr<context::ContextBuilder> builder,
             std::unique_ptr<store::Store> store, AgentConfig cfg = AgentConfig()) {
    cfg.upstream.mode = mode;
    cfg.upstream.url = "scripted";
    auto u = std::make_unique<ScriptedUpstream>(mode);
    upstream = u.get();
    agent = std::make_unique<Agent>(cfg, clock, std::move(store), std::move(u), std::move(builder),
                                    [] { return 0.5; });
  }
  state::SnapshotPtr snap() const { return agent->state().current(); }
  Json value(const std::string& flag) const { return snap()->flags.at(flag).value; }
};

context::ContextOptions real_options(const TempDir& dir) {
  context::ContextOptions o;
  o.root = dir.path();
  o.targeting_key = "host-1";
  o.context_dir = dir.file("context.d");
  o.providers_dir = dir.file("providers.d");
  o.time_zone = "Europe/Paris";
  return o;
}

std::unique_ptr<context::ContextBuilder> real_builder(const TempDir& dir, const Clock& clock) {
  auto b = context::ContextBuilder::create(real_options(dir), clock);
  if (!b) ADD_FAILURE() << b.error().to_string();
  return b ? std::move(*b) : nullptr;
}

// ---------------------------------------------------------------- time windows

TEST(AgentContext, ChangeWindowOpensAndClosesExactlyAtTheMinuteBoundary) {
  TempDir dir;
  Rig r;
  r.clock.set_wall(at_unix_ms(kTue0859_30Paris));
  r.start(sync::Mode::kDefinitions, real_builder(dir, r.clock), std::make_unique<MemoryStore>());
  r.upstream->script = {definitions(kChangeWindow)};
  r.agent->sync_once();
  ASSERT_TRUE(r.snap()->ready);
  EXPECT_EQ(r.agent->context()["time"]["zone"], "Europe/Paris");
  EXPECT_EQ(r.agent->context()["time"]["hour"], 8);
  EXPECT_EQ(r.value("window"), false);

  // The sync thread sleeps until the next wall-clock minute, not a fixed minute from now.
  EXPECT_EQ(r.agent->tick().next, 30s);
  r.clock.advance(29999ms);
  r.agent->tick();
  EXPECT_EQ(r.value("window"), false) << "08:59:59.999";
  const auto rev = r.snap()->revision;
  r.clock.advance(1ms);
  const auto t = r.agent->tick();
  EXPECT_EQ(r.value("window"), true) << "09:00:00.000";
  EXPECT_GT(r.snap()->revision, rev) << "blocking queries see the window open";
  EXPECT_EQ(t.next, 60s);
  EXPECT_FALSE(t.resync);

  r.clock.advance(7h + 59min + 59s + 999ms);  // 16:59:59.999
  r.agent->tick();
  EXPECT_EQ(r.value("window"), true);
  r.clock.advance(1ms);
  r.agent->tick();
  EXPECT_EQ(r.value("window"), false) << "17:00:00.000";

  r.clock.advance(4 * 24h - 8h);  // Saturday 09:00: wrong day
  r.agent->tick();
  EXPECT_EQ(r.agent->context()["time"]["weekday"], "sat");
  EXPECT_EQ(r.value("window"), false);
}

TEST(AgentContext, WindowKeepsMovingWhileTheUpstreamIsDown) {
  TempDir dir;
  Rig r;
  r.clock.set_wall(at_unix_ms(kTue0859_30Paris));
  r.start(sync::Mode::kDefinitions, real_builder(dir, r.clock), std::make_unique<MemoryStore>());
  r.upstream->script = {definitions(kChangeWindow), failure("flagd down")};
  r.agent->sync_once();
  r.clock.advance(30s);
  r.agent->sync_once();  // fails
  r.agent->tick();
  EXPECT_EQ(r.snap()->source, state::Source::kCache);
  EXPECT_EQ(r.value("window"), true);
}

TEST(AgentContext, FailedSyncInDefinitionsModeOnlyUpdatesTheStatus) {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  Rig r;
  r.clock.set_wall(at_unix_ms(kTue0859_30Paris));
  r.start(sync::Mode::kDefinitions,
          std::make_unique<FakeContextBuilder>(r.clock, Json{{"tier", "paying"}}),
          std::move(store));
  r.upstream->script = {definitions(kChangeWindow), failure("flagd down")};
  r.agent->sync_once();
  const auto saves = s->counters().save_calls;
  const auto updated = r.snap()->flags.at("window").updated_at_ms;
  r.clock.advance(31s);  // 08:00:01 UTC: the window opened, but only tick() re-evaluates
  r.agent->sync_once();
  EXPECT_EQ(s->counters().save_calls, saves) << "a failed sync writes nothing";
  EXPECT_EQ(r.value("window"), false);
  EXPECT_EQ(r.snap()->flags.at("window").updated_at_ms, updated);
  EXPECT_EQ(r.snap()->sync.last_error, "flagd down");
  EXPECT_EQ(r.snap()->source, state::Source::kCache);
}

TEST(AgentContext, UnchangedReevaluationsWriteNothing) {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  Rig r;
  r.start(sync::Mode::kDefinitions,
          std::make_unique<FakeContextBuilder>(r.clock, Json{{"tier", "paying"}}),
          std::move(store));
  r.upstream->script = {definitions(kChangeWindow)};
  r.agent->sync_once();
  const auto writes = s->counters().save_calls;
  for (int i = 0; i < 5; ++i) {
    r.clock.advance(60s);
    r.agent->tick();
  }
  EXPECT_EQ(s->counters().save_calls, writes);
}

// ---------------------------------------------------------------- context changes

TEST(AgentContext, ReloadedContextFileBumpsTheRevisionAndReevaluatesAtOnce) {
  TempDir dir;
  dir.write("context.d/10-tier.json", R"({"tier":"paying"})");
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  Rig r;
  r.start(sync::Mode::kDefinitions, real_builder(dir, r.clock), std::move(store));
  r.upstream->script = {definitions(kChangeWindow)};
  r.agent->sync_once();
  EXPECT_EQ(r.value("tiered"), true);
  const Json view = r.agent->context_view();
  EXPECT_EQ(view["sources"]["tier"], "context.d/10-tier.json");
  EXPECT_EQ(view["sources"]["time"], "time");
  EXPECT_EQ(view["sources"]["canary"], "canary");
  EXPECT_EQ(view["context"]["targetingKey"], "host-1");
  const auto rev = r.snap()->revision;

  dir.write("context.d/10-tier.json", R"({"tier":"free"})");
  ASSERT_TRUE(r.agent->reload_context(real_options(dir)).ok());
  const auto t = r.agent->tick();
  EXPECT_FALSE(t.resync) << "definitions mode evaluates locally";
  EXPECT_EQ(r.value("tiered"), false);
  EXPECT_GT(r.snap()->revision, rev);
  EXPECT_EQ(r.snap()->context["tier"], "free");
  EXPECT_EQ(s->evaluations()->flags["tiered"]["value"], false) << "saved at once";
}

TEST(AgentContext, ContextChangeIsNewsEvenWhenNoAnswerChanges) {
  Rig r;
  auto b = std::make_unique<FakeContextBuilder>(r.clock, Json{{"tier", "paying"}});
  FakeContextBuilder* fake = b.get();
  r.start(sync::Mode::kDefinitions, std::move(b), std::make_unique<MemoryStore>());
  r.upstream->script = {definitions(kChangeWindow)};
  r.agent->sync_once();
  const auto rev = r.snap()->revision;
  fake->set("rack", "r12");
  r.agent->tick();
  EXPECT_EQ(r.snap()->revision, rev + 1);
  EXPECT_EQ(r.snap()->context["rack"], "r12");
  r.agent->tick();
  EXPECT_EQ(r.snap()->revision, rev + 1) << "no change, no news";
}

TEST(AgentContext, ProviderRefreshRunsWhenDueAndResyncsAtOnceInRemoteModes) {
  Rig r;
  auto b = std::make_unique<FakeContextBuilder>(r.clock, Json{{"tier", "paying"}});
  FakeContextBuilder* fake = b.get();
  r.start(sync::Mode::kOfrep, std::move(b), std::make_unique<MemoryStore>());
  r.upstream->script = {evaluations(Json{{"f", {{"value", 1}, {"reason", "STATIC"}}}}, "e1")};
  r.agent->sync_once();
  fake->stage("tier", "free", r.clock.steady() + 60s);
  auto t = r.agent->tick();
  EXPECT_EQ(fake->refresh_calls(), 0) << "not due yet";
  EXPECT_EQ(t.next, 60s) << "sleeps until the provider is due";
  EXPECT_FALSE(t.resync);
  r.clock.advance(60s);
  const auto rev = r.snap()->revision;
  t = r.agent->tick();
  EXPECT_EQ(fake->refresh_calls(), 1);
  EXPECT_TRUE(t.resync);
  EXPECT_GT(r.snap()->revision, rev);
  r.agent->sync_once();
  EXPECT_EQ(r.upstream->contexts.back()["tier"], "free");
  EXPECT_EQ(r.upstream->etags.back(), "") << "an ETag belongs to the old context";
  EXPECT_TRUE(r.upstream->contexts.back().contains("time")) << "time fields go upstream";
}

TEST(AgentContext, SighupReloadHandsTheNewOptionsToTheBuilder) {
  Rig r;
  auto b = std::make_unique<FakeContextBuilder>(r.clock, Json{{"tier", "paying"}});
  FakeContextBuilder* fake = b.get();
  r.start(sync::Mode::kOfrep, std::move(b), std::make_unique<MemoryStore>());
  ContextConfig cfg;
  cfg.attributes = Json{{"tier", "free"}};
  cfg.time_zone = "Asia/Tokyo";
  ASSERT_TRUE(r.agent->reload_context(context_options(cfg)).ok());
  EXPECT_EQ(fake->reload_calls(), 1);
  EXPECT_EQ(fake->last_options().time_zone, "Asia/Tokyo");
  EXPECT_TRUE(r.agent->tick().resync);
}

TEST(AgentContext, CacheKeyIgnoresTimeAndCanaryFields) {
  const Json a = Json{
      {"targetingKey", "h"}, {"tier", "x"}, {"time", {{"hour", 1}}}, {"canary", {{"count", 0}}}};
  Json b = a;
  b["time"]["hour"] = 2;
  b["canary"]["count"] = 3;
  EXPECT_EQ(context_hash(a), context_hash(b));
  b["tier"] = "y";
  EXPECT_NE(context_hash(a), context_hash(b));

  // A restart a day later matches the cached answers' key.
  Rig first;
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  first.start(sync::Mode::kOfrep,
              std::make_unique<FakeContextBuilder>(first.clock, Json{{"tier", "x"}}),
              std::move(store));
  first.upstream->script = {evaluations(Json{{"f", {{"value", 1}, {"reason", "STATIC"}}}})};
  first.agent->sync_once();
  auto again = std::make_unique<MemoryStore>();
  again->seed(*s->evaluations());
  Rig second;
  second.clock.advance(24h + 17min);
  second.start(sync::Mode::kOfrep,
               std::make_unique<FakeContextBuilder>(second.clock, Json{{"tier", "x"}}),
               std::move(again));
  ASSERT_TRUE(second.agent->load_cache());
  EXPECT_EQ(second.agent->status_extra()["contextHash"], s->evaluations()->context_hash);
}

TEST(AgentContext, ContextViewListsErrors) {
  Rig r;
  auto b = std::make_unique<FakeContextBuilder>(r.clock, Json{{"tier", "paying"}});
  b->set_errors(Json::array({Json{{"source", "provider:gpu"}, {"message", "exit 1"}, {"at", 1}}}));
  r.start(sync::Mode::kOfrep, std::move(b), std::make_unique<MemoryStore>());
  const Json v = r.agent->context_view();
  ASSERT_EQ(v["errors"].size(), 1u);
  EXPECT_EQ(v["errors"][0]["source"], "provider:gpu");
  EXPECT_EQ(v["sources"]["tier"], "config");
  EXPECT_EQ(v["context"]["canary"]["count"], 0);
}

// ---------------------------------------------------------------- EventStream status

TEST(AgentContext, StreamConnectedIsPublishedAsStatus) {
  Rig r;
  r.start(sync::Mode::kFlagd, std::make_unique<FakeContextBuilder>(r.clock, Json::object()),
          std::make_unique<MemoryStore>());
  r.upstream->script = {evaluations(Json{{"f", {{"value", 1}, {"reason", "STATIC"}}}})};
  r.agent->sync_once();
  const auto rev = r.snap()->revision;
  EXPECT_FALSE(r.snap()->sync.stream_connected);
  r.agent->set_stream_connected(true);
  EXPECT_TRUE(r.snap()->sync.stream_connected);
  EXPECT_EQ(r.snap()->revision, rev) << "status only";
  r.agent->sync_once();
  EXPECT_TRUE(r.snap()->sync.stream_connected) << "later status publishes keep it";
  r.agent->set_stream_connected(false);
  EXPECT_FALSE(r.snap()->sync.stream_connected);
}

// ---------------------------------------------------------------- canary fatigue

// `wave` serves its canary variant to hosts that were in no past wave.
std::string fresh_host_canary(const std::string& default_variant = "canary") {
  return R"({"flags":{
  "wave": {"state":"ENABLED","variants":{"canary":"v2","stable":"v1"},
    "defaultVariant":")" +
         default_variant + R"(",
    "metadata":{"canaryVariants":"canary-0, canary"},
    "targeting":{"if":[{"==":[{"var":"canary.count"},0]},"canary","stable"]}}
}})";
}

TEST(AgentCanary, BeingChosenDoesNotFlipTheHostOutOfTheWave) {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  Rig r;
  r.start(sync::Mode::kDefinitions, std::make_unique<FakeContextBuilder>(r.clock, Json::object()),
          std::move(store));
  r.upstream->script = {definitions(fresh_host_canary())};
  r.agent->sync_once();
  EXPECT_EQ(r.snap()->flags.at("wave").variant, "canary");
  EXPECT_EQ(r.agent->context()["canary"], (Json{{"count", 0}, {"active", 1}}));
  ASSERT_EQ(s->canary_history().size(), 1u);
  EXPECT_EQ(s->canary_history()[0].flag_key, "wave");
  EXPECT_EQ(s->canary_history()[0].first_seen_ms, r.clock.now_unix_ms());
  const auto rev = r.snap()->revision;
  for (int i = 0; i < 10; ++i) {
    r.clock.advance(36h);
    r.agent->tick();
    r.agent->sync_once();
    EXPECT_EQ(r.snap()->flags.at("wave").variant, "canary") << "after " << i << " steps";
  }
  EXPECT_EQ(r.snap()->revision, rev);
  EXPECT_EQ(s->canary_history().size(), 1u);
}

TEST(AgentCanary, PastWavesCountAndAJustEndedWaveIsSeenBeforeAnythingIsServed) {
  auto store = std::make_unique<MemoryStore>();
  MemoryStore* s = store.get();
  Rig r;
  r.start(sync::Mode::kDefinitions, std::make_unique<FakeContextBuilder>(r.clock, Json::object()),
          std::move(store));
  // v1: host in wave A. v2: A is rolled out to everyone, B starts preferring fresh hosts.
  const std::string v1 = R"({"flags":{
    "a": {"state":"ENABLED","variants":{"canary":true,"stable":false},"defaultVariant":"canary",
          "metadata":{"canaryVariants":"canary"}}}})";
  const std::string v2 = R"({"flags":{
    "a": {"state":"ENABLED","variants":{"canary":true,"stable":false},"defaultVariant":"stable",
          "metadata":{"canaryVariants":"canary"}},
    "b": {"state":"ENABLED","variants":{"canary":true,"stable":false},"defaultVariant":"stable",
          "metadata":{"canaryVariants":"canary"},
          "targeting":{"if":[{"==":[{"var":"canary.count"},0]},"canary","stable"]}}}})";
  r.upstream->script = {definitions(v1), definitions(v2)};
  r.agent->sync_once();
  EXPECT_EQ(r.agent->context()["canary"], (Json{{"count", 0}, {"active", 1}}));
  r.clock.advance(3 * 24h + 5h);
  r.agent->sync_once();
  EXPECT_EQ(r.snap()->flags.at("b").variant, "stable") << "the host was in wave A";
  EXPECT_EQ(r.agent->context()["canary"],
            (Json{{"count", 1}, {"active", 0}, {"daysSinceLast", 3}}));
  EXPECT_EQ(s->canary_history().size(), 1u) << "b was never served its canary variant";
}

TEST(AgentCanary, FatigueSurvivesRestartsOnTheSameDatabaseAndExpires) {
  TempDir dir;
  const std::string db = dir.file("cache.db");
  const std::string v1 = R"({"flags":{
    "a": {"state":"ENABLED","variants":{"canary":true,"stable":false},"defaultVariant":"canary",
          "metadata":{"canaryVariants":"canary"}}}})";
  const std::string v2 = R"({"flags":{
    "a": {"state":"ENABLED","variants":{"canary":true,"stable":false},"defaultVariant":"stable",
          "metadata":{"canaryVariants":"canary"}},
    "b": {"state":"ENABLED","variants":{"canary":true,"stable":false},"defaultVariant":"stable",
          "metadata":{"canaryVariants":"canary"},
          "targeting":{"if":[{"==":[{"var":"canary.count"},0]},"canary","stable"]}}}})";
  std::int64_t t0 = 0;
  {
    Rig r;
    t0 = r.clock.now_unix_ms();
    auto store = store::open_sqlite(db, t0);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    r.start(sync::Mode::kDefinitions, std::make_unique<FakeContextBuilder>(r.clock, Json::object()),
            std::move(*store));
    r.upstream->script = {definitions(v1), definitions(v2)};
    r.agent->sync_once();
    r.clock.advance(1h);
    r.agent->sync_once();
    EXPECT_EQ(r.agent->context()["canary"]["count"], 1);
  }
  AgentConfig cfg;
  cfg.context.canary_window = std::chrono::hours(24 * 30);
  Rig r;
  r.clock.set_wall(at_unix_ms(t0 + 10 * 86'400'000LL + 5000));
  auto store = store::open_sqlite(db, r.clock.now_unix_ms());
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  r.start(sync::Mode::kDefinitions, std::make_unique<FakeContextBuilder>(r.clock, Json::object()),
          std::move(*store), cfg);
  ASSERT_TRUE(r.agent->load_cache());
  EXPECT_EQ(r.agent->context()["canary"],
            (Json{{"count", 1}, {"active", 0}, {"daysSinceLast", 10}}));
  EXPECT_EQ(r.snap()->flags.at("b").variant, "stable") << "cached definitions, fatigued host";

  r.clock.advance(std::chrono::hours(24 * 20));  // day 30 + 5 s: wave A left the window
  r.agent->tick();
  EXPECT_EQ(r.agent->context()["canary"]["count"], 0);
  EXPECT_EQ(r.agent->context()["canary"]["daysSinceLast"], 30) << "the last time is still known";
  EXPECT_EQ(r.snap()->flags.at("b").variant, "canary") << "fresh again: next wave";
  EXPECT_EQ(r.agent->context()["canary"]["active"], 1);
}

TEST(AgentCanary, RemoteModesAskAgainWithTheCanaryObjectTheAnswersImply) {
  Rig r;
  r.start(sync::Mode::kOfrep, std::make_unique<FakeContextBuilder>(r.clock, Json::object()),
          std::make_unique<MemoryStore>());
  const Json canary = Json{{"k",
                            {{"value", true},
                             {"variant", "canary"},
                             {"reason", "TARGETING_MATCH"},
                             {"metadata", {{"canaryVariants", "canary"}}}}}};
  r.upstream->script = {evaluations(canary, "e1"), evaluations(canary, "e2")};
  r.agent->sync_once();
  ASSERT_EQ(r.upstream->contexts.size(), 2u);
  EXPECT_EQ(r.upstream->contexts[0]["canary"]["active"], 0);
  EXPECT_EQ(r.upstream->contexts[1]["canary"]["active"], 1);
  EXPECT_EQ(r.upstream->etags[1], "") << "another context";
  EXPECT_EQ(r.snap()->flags.at("k").variant, "canary");
  r.agent->sync_once();
  EXPECT_EQ(r.upstream->contexts.size(), 3u) << "settled: one request per poll";
  EXPECT_EQ(r.upstream->etags.back(), "e2");
}

}  // namespace
}  // namespace ff::app
