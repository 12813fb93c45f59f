// The agent core (sync loop decisions, cache use, stale marking) with its seams faked:
// FakeClock, MemoryStore, and a scripted Upstream. No threads, no sockets: sync_once() and
// load_cache() are driven by hand.
#include "agent/app/agent.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/memory_store.h"
#include "tests/unit/app/scripted_upstream.h"

namespace ff::app {
namespace {

using namespace std::chrono_literals;
using ff::testing::definitions;
using ff::testing::evaluations;
using ff::testing::failure;
using ff::testing::FakeClock;
using ff::testing::MemoryStore;
using ff::testing::not_modified;
using ff::testing::ScriptedUpstream;

// A function, not a static: building a Json may throw.
Json flags_v1() {
  return Json::parse(R"({
  "rollout": {"value": true, "variant": "on", "reason": "TARGETING_MATCH", "metadata": {}},
  "version": {"value": "1.2.3", "variant": "v1", "reason": "STATIC", "metadata": {"team": "sre"}}
})");
}

struct Harness {
  FakeClock clock;
  MemoryStore* store = nullptr;  // owned by the agent
  ScriptedUpstream* upstream = nullptr;
  std::unique_ptr<Agent> agent;

  Harness(sync::Mode mode, std::unique_ptr<MemoryStore> s = std::make_unique<MemoryStore>(),
          AgentConfig cfg = AgentConfig()) {
    cfg.upstream.mode = mode;
    cfg.upstream.url = "scripted";
    cfg.sync.interval = 30s;
    cfg.sync.jitter = 0.2;
    cfg.sync.backoff_base = 1s;
    cfg.sync.backoff_max = 60s;
    store = s.get();
    auto u = std::make_unique<ScriptedUpstream>(mode);
    upstream = u.get();
    agent = std::make_unique<Agent>(cfg, clock, std::move(s), std::move(u),
                                    Json{{"targetingKey", "host-1"}, {"tier", "paying"}},
                                    [] { return 0.5; });
  }
  state::SnapshotPtr snap() { return agent->state().current(); }
};

TEST(Agent, NotReadyWithoutCacheOrSync) {
  Harness h(sync::Mode::kOfrep);
  EXPECT_FALSE(h.agent->load_cache());
  EXPECT_FALSE(h.snap()->ready);
}

TEST(Agent, SuccessfulSyncServesLiveValuesAndCachesThem) {
  Harness h(sync::Mode::kOfrep);
  h.upstream->script = {evaluations(flags_v1(), "etag-1")};
  const auto delay = h.agent->sync_once();
  // Poll interval 30 s with +-20 % jitter; the injected random 0.5 sits in the middle.
  EXPECT_GE(delay, 24s);
  EXPECT_LE(delay, 36s);
  const auto s = h.snap();
  ASSERT_TRUE(s->ready);
  EXPECT_EQ(s->source, state::Source::kLive);
  EXPECT_EQ(s->flags.at("rollout").value, true);
  EXPECT_EQ(s->flags.at("version").metadata["team"], "sre");
  EXPECT_EQ(s->synced_at_ms, h.clock.now_unix_ms());
  ASSERT_TRUE(h.store->evaluations().has_value());
  EXPECT_EQ(h.store->evaluations()->flags["rollout"]["value"], true);
  EXPECT_EQ(h.store->sync().etag, "etag-1");
  // The next attempt sends the ETag.
  h.agent->sync_once();
  EXPECT_EQ(h.upstream->etags.back(), "etag-1");
}

TEST(Agent, UpstreamFailureKeepsValuesAndMarksThemStale) {
  Harness h(sync::Mode::kOfrep);
  h.upstream->script = {evaluations(flags_v1()), failure("connect: refused")};
  h.agent->sync_once();
  const auto rev = h.snap()->revision;
  h.clock.advance(30s);
  const auto delay = h.agent->sync_once();
  const auto s = h.snap();
  EXPECT_TRUE(s->ready);
  EXPECT_EQ(s->source, state::Source::kCache);
  EXPECT_EQ(s->flags.at("rollout").value, true);
  EXPECT_EQ(s->sync.last_error, "connect: refused");
  EXPECT_EQ(s->sync.consecutive_failures, 1u);
  EXPECT_GT(s->revision, rev) << "going stale is news for blocking queries";
  EXPECT_LE(delay, 60s);
}

TEST(Agent, BackoffGrowsAndRespectsRetryAfter) {
  Harness h(sync::Mode::kOfrep);
  h.upstream->script = {failure("a"), failure("b"), failure("c"),
                        failure("rate limited", 429, std::chrono::seconds(45))};
  const auto d1 = h.agent->sync_once();
  const auto d2 = h.agent->sync_once();
  const auto d3 = h.agent->sync_once();
  EXPECT_LT(d1, d2);
  EXPECT_LT(d2, d3);
  EXPECT_GE(h.agent->sync_once(), 45s);
}

TEST(Agent, NotModifiedAfterAnOutageMakesTheCacheLiveAgain) {
  Harness h(sync::Mode::kOfrep);
  h.upstream->script = {evaluations(flags_v1(), "e1"), failure("down"), not_modified()};
  h.agent->sync_once();
  const auto updated = h.snap()->flags.at("rollout").updated_at_ms;
  h.clock.advance(10s);
  h.agent->sync_once();
  ASSERT_EQ(h.snap()->source, state::Source::kCache);
  h.clock.advance(10s);
  h.agent->sync_once();
  EXPECT_EQ(h.snap()->source, state::Source::kLive);
  EXPECT_EQ(h.snap()->flags.at("rollout").updated_at_ms, updated) << "the value did not change";
}

TEST(Agent, UnchangedAnswersDoNotBumpTheRevision) {
  Harness h(sync::Mode::kOfrep);
  h.upstream->script = {evaluations(flags_v1())};
  h.agent->sync_once();
  const auto rev = h.snap()->revision;
  const auto updated = h.snap()->flags.at("rollout").updated_at_ms;
  h.clock.advance(30s);
  h.agent->sync_once();
  EXPECT_EQ(h.snap()->revision, rev);
  EXPECT_EQ(h.snap()->flags.at("rollout").updated_at_ms, updated);
  EXPECT_EQ(h.snap()->sync.last_success_ms, h.clock.now_unix_ms()) << "status still moves";
}

TEST(Agent, ChangedValueBumpsRevisionAndUpdatedAt) {
  Harness h(sync::Mode::kOfrep);
  Json v2 = flags_v1();
  v2["rollout"]["value"] = false;
  v2["rollout"]["variant"] = "off";
  h.upstream->script = {evaluations(flags_v1()), evaluations(v2)};
  h.agent->sync_once();
  const auto rev = h.snap()->revision;
  h.clock.advance(30s);
  h.agent->sync_once();
  EXPECT_GT(h.snap()->revision, rev);
  EXPECT_EQ(h.snap()->flags.at("rollout").value, false);
  EXPECT_EQ(h.snap()->flags.at("rollout").updated_at_ms, h.clock.now_unix_ms());
  EXPECT_NE(h.snap()->flags.at("version").updated_at_ms, h.clock.now_unix_ms());
}

TEST(Agent, RestartServesTheCacheStaleBeforeAnySync) {
  auto store = std::make_unique<MemoryStore>();
  {
    Harness first(sync::Mode::kOfrep, std::make_unique<MemoryStore>());
    first.upstream->script = {evaluations(flags_v1(), "e9")};
    first.agent->sync_once();
    store->seed(*first.store->evaluations());
    store->seed(first.store->sync());
  }
  Harness h(sync::Mode::kOfrep, std::move(store));
  ASSERT_TRUE(h.agent->load_cache());
  const auto s = h.snap();
  EXPECT_TRUE(s->ready);
  EXPECT_EQ(s->source, state::Source::kCache);
  EXPECT_EQ(s->flags.at("version").value, "1.2.3");
  EXPECT_TRUE(h.upstream->etags.empty()) << "no network before serving the cache";
  h.upstream->script = {failure("still down")};
  h.agent->sync_once();
  EXPECT_EQ(h.upstream->etags.back(), "e9");
  EXPECT_EQ(h.snap()->flags.at("version").value, "1.2.3");
}

TEST(Agent, FailingStoreKeepsServingFromMemoryAndSaysWhy) {
  auto store = std::make_unique<MemoryStore>();
  store->fail_saves("full");
  Harness h(sync::Mode::kOfrep, std::move(store));
  h.upstream->script = {evaluations(flags_v1())};
  h.agent->sync_once();
  EXPECT_EQ(h.snap()->flags.at("rollout").value, true);
  const Json st = h.agent->status_extra();
  ASSERT_TRUE(st["cache"]["error"].is_string());
  EXPECT_NE(st["cache"]["error"].get<std::string>().find("full"), std::string::npos);
}

// A change window on $flagd.timestamp: open for the second half of every hour.
const char* kWindowFlags = R"({"flags":{
  "window": {"state":"ENABLED","variants":{"open":true,"closed":false},"defaultVariant":"closed",
             "targeting":{"if":[{">=":[{"%":[{"var":"$flagd.timestamp"},3600]},1800]},"open","closed"]}},
  "tiered": {"state":"ENABLED","variants":{"yes":true,"no":false},"defaultVariant":"no",
             "targeting":{"if":[{"==":[{"var":"tier"},"paying"]},"yes","no"]}}
}})";

TEST(Agent, DefinitionsModeEvaluatesLocallyAndKeepsTimeRulesMovingWhileDown) {
  Harness h(sync::Mode::kDefinitions);
  // 2025-11-29 07:06:40 UTC: 400 s into the hour -> window closed.
  h.clock.set_wall(std::chrono::system_clock::time_point(std::chrono::seconds(1764400000)));
  h.upstream->script = {definitions(kWindowFlags), failure("file vanished")};
  h.agent->sync_once();
  ASSERT_TRUE(h.snap()->ready);
  EXPECT_EQ(h.snap()->flags.at("window").value, false);
  EXPECT_EQ(h.snap()->flags.at("tiered").value, true) << "context attribute tier=paying";
  ASSERT_TRUE(h.store->definitions().has_value());
  h.clock.advance(1500s);  // 1900 s into the hour
  h.agent->sync_once();    // upstream fails: only the status changes
  EXPECT_EQ(h.snap()->source, state::Source::kCache);
  EXPECT_EQ(h.snap()->flags.at("window").value, false);
  h.agent->tick();  // the timers re-evaluate the cached definitions for the new time
  EXPECT_EQ(h.snap()->source, state::Source::kCache);
  EXPECT_EQ(h.snap()->flags.at("window").value, true);
}

TEST(Agent, DefinitionsModeRestartsFromCachedDefinitions) {
  auto store = std::make_unique<MemoryStore>();
  store->seed(store::CachedDefinitions{"file", kWindowFlags, "x", 1});
  Harness h(sync::Mode::kDefinitions, std::move(store));
  ASSERT_TRUE(h.agent->load_cache());
  EXPECT_EQ(h.snap()->source, state::Source::kCache);
  EXPECT_EQ(h.snap()->flags.at("tiered").value, true);
}

TEST(Agent, RefusedDefinitionsKeepTheLastGoodOnes) {
  Harness h(sync::Mode::kDefinitions);
  h.upstream->script = {
      definitions(kWindowFlags),
      definitions(
          R"({"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"zz"}}})")};
  h.agent->sync_once();
  h.agent->sync_once();
  EXPECT_EQ(h.snap()->flags.count("tiered"), 1u);
  EXPECT_NE(h.snap()->sync.last_error.find("refused"), std::string::npos);
}

TEST(Agent, EvaluateForLayersTheCallersContextOnTheHostContext) {
  Harness h(sync::Mode::kDefinitions);
  h.upstream->script = {definitions(kWindowFlags)};
  h.agent->sync_once();
  auto r = h.agent->evaluate_for(Json{{"tier", "free"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["flags"]["tiered"]["value"], false);
  Harness remote(sync::Mode::kOfrep);
  EXPECT_FALSE(remote.agent->evaluate_for(Json::object()).has_value());
}

TEST(Agent, ContextChangeDropsTheEtagInRemoteModes) {
  Harness h(sync::Mode::kOfrep);
  h.upstream->script = {evaluations(flags_v1(), "e1")};
  h.agent->sync_once();
  h.agent->set_context(Json{{"targetingKey", "host-1"}, {"tier", "free"}});
  h.agent->sync_once();
  EXPECT_EQ(h.upstream->etags.back(), "");
  EXPECT_EQ(h.upstream->contexts.back()["tier"], "free");
}

TEST(Agent, BootstrapDefinitionsSeedANewHost) {
  char path[] = "/tmp/ffboot.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = kWindowFlags;
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  AgentConfig cfg;
  cfg.bootstrap_definitions = path;
  Harness h(sync::Mode::kOfrep, std::make_unique<MemoryStore>(), cfg);
  EXPECT_TRUE(h.agent->load_cache());
  EXPECT_TRUE(h.snap()->ready);
  EXPECT_EQ(h.snap()->source, state::Source::kDefault);
  EXPECT_EQ(h.snap()->flags.at("tiered").value, true);
  unlink(path);
}

}  // namespace
}  // namespace ff::app
