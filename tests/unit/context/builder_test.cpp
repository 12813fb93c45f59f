// ContextBuilder with providers and a FakeClock: TTL, last good value, reload, generation,
// time zone errors, concurrent readers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "agent/context/context.h"
#include "agent/context/internal.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/context/context_test_util.h"

namespace ff::context {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;

// A provider driven by files in its directory: `mode` = good | fail | hang | garbage | signal;
// every run appends a line to `runs`; `value` is printed as the "v" attribute.
constexpr const char* kScripted = R"(
echo run >> "$DIR/runs"
mode=$(cat "$DIR/mode" 2>/dev/null || echo good)
case "$mode" in
  good) echo "{\"v\": \"$(cat "$DIR/value")\", \"runs\": $(wc -l < "$DIR/runs")}" ;;
  fail) echo "ticket API down" >&2; exit 1 ;;
  hang) exec sleep 1000 ;;
  garbage) echo "<html>oops</html>" ;;
  signal) kill -KILL $$ ;;
esac)";

class BuilderTest : public ::testing::Test {
 protected:
  BuilderTest() {
    root_.write("state/value", "one");
    root_.mkdir("providers.d");
  }
  ContextOptions options() const {
    ContextOptions o;
    o.root = root_.path();
    o.context_dir = root_.file("context.d");
    o.providers_dir = root_.file("providers.d");
    o.time_zone = "Europe/Berlin";
    o.targeting_key = "host-1";
    o.provider_defaults.ttl = milliseconds(60000);
    o.provider_defaults.retry = milliseconds(10000);
    o.provider_defaults.timeout = milliseconds(5000);
    o.provider_defaults.env["DIR"] = root_.file("state");
    return o;
  }
  void add_scripted(const std::string& name) { root_.script("providers.d/" + name, kScripted); }
  void set_mode(const std::string& mode) { root_.write("state/mode", mode); }
  int runs() const {
    std::string text = root_.read("state/runs");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  std::unique_ptr<ContextBuilder> create(const ContextOptions& o) {
    auto b = ContextBuilder::create(o, clock_);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().to_string());
    return b.ok() ? std::move(*b) : nullptr;
  }
  static Json provider_errors(const HostContext& c, const std::string& name) {
    Json out = Json::array();
    for (const auto& e : c.errors) {
      if (e["source"] == "provider:" + name) out.push_back(e);
    }
    return out;
  }

  ff::testing::FakeClock clock_;
  TempDir root_;
};

TEST_F(BuilderTest, ProviderValueWithProvenance) {
  add_scripted("incident");
  auto b = create(options());
  HostContext c = b->current();
  EXPECT_EQ(c.context["v"], "one");
  EXPECT_EQ(c.sources["v"], "provider:incident");
  EXPECT_EQ(c.generation, 1u);
  EXPECT_TRUE(c.errors.empty()) << c.errors.dump();
  EXPECT_EQ(c.time_zone, "Europe/Berlin");
}

TEST_F(BuilderTest, TtlReuseThenRerun) {
  add_scripted("p");
  auto b = create(options());
  ASSERT_EQ(runs(), 1);
  EXPECT_EQ(b->next_refresh(), clock_.steady() + milliseconds(60000));
  EXPECT_FALSE(b->refresh());  // not due
  clock_.advance(milliseconds(59999));
  EXPECT_FALSE(b->refresh());
  EXPECT_EQ(runs(), 1);
  clock_.advance(milliseconds(1));
  EXPECT_TRUE(b->refresh());  // due: reruns; `runs` in its output changed
  EXPECT_EQ(runs(), 2);
  EXPECT_EQ(b->current().context["runs"], 2);
  EXPECT_EQ(b->current().generation, 2u);
  EXPECT_EQ(b->next_refresh(), clock_.steady() + milliseconds(60000));
}

// The agent's start-up: facts and files at once, providers only at the first refresh() (which
// is due immediately), so a slow provider cannot delay serving the cache.
TEST_F(BuilderTest, DeferredProvidersRunAtTheFirstRefresh) {
  add_scripted("p");
  ContextOptions o = options();
  o.attributes = Json{{"tier", "gold"}};
  o.defer_providers = true;
  auto b = create(o);
  EXPECT_EQ(runs(), 0);
  HostContext c = b->current();
  EXPECT_EQ(c.context["tier"], "gold");
  EXPECT_FALSE(c.context.contains("v"));
  EXPECT_EQ(b->next_refresh(), clock_.steady());
  EXPECT_TRUE(b->refresh());
  EXPECT_EQ(runs(), 1);
  EXPECT_EQ(b->current().context["v"], "one");
  EXPECT_EQ(b->current().sources["v"], "provider:p");
  EXPECT_EQ(b->next_refresh(), clock_.steady() + milliseconds(60000));
  o.defer_providers = false;  // a reload runs them at once
  ASSERT_TRUE(b->reload(o).ok());
  EXPECT_EQ(runs(), 2);
}

TEST_F(BuilderTest, PerProviderOptionsOverrideDefaults) {
  add_scripted("fast");
  add_scripted("slow");
  auto o = options();
  o.providers["fast"] = o.provider_defaults;
  o.providers["fast"].ttl = milliseconds(1000);
  auto b = create(o);
  ASSERT_EQ(runs(), 2);
  clock_.advance(milliseconds(1000));
  b->refresh();
  EXPECT_EQ(runs(), 3);  // only "fast" was due
}

TEST_F(BuilderTest, FailuresKeepLastGoodValueAndAreVisible) {
  add_scripted("inc");
  auto b = create(options());
  ASSERT_EQ(b->current().context["v"], "one");
  const std::string modes[] = {"fail", "garbage", "signal", "hang"};
  auto o = options();
  o.provider_defaults.timeout = milliseconds(200);
  ASSERT_TRUE(b->reload(o).ok());
  for (const auto& mode : modes) {
    set_mode(mode);
    clock_.advance(milliseconds(60000));
    EXPECT_FALSE(b->refresh()) << mode;  // nothing changed: the old value stays
    HostContext c = b->current();
    EXPECT_EQ(c.context["v"], "one") << mode;
    EXPECT_EQ(c.sources["v"], "provider:inc") << mode;
    Json errs = provider_errors(c, "inc");
    ASSERT_EQ(errs.size(), 1u) << mode << c.errors.dump();
    EXPECT_FALSE(errs[0]["message"].get<std::string>().empty());
    EXPECT_EQ(errs[0]["at"], detail::utc_timestamp(clock_.now()));
    // A failure is retried after min(ttl, retry), not after the full TTL.
    EXPECT_EQ(b->next_refresh(), clock_.steady() + milliseconds(10000)) << mode;
  }
  EXPECT_NE(provider_errors(b->current(), "inc")[0]["message"].get<std::string>().find("timed out"),
            std::string::npos);
  // Recovery clears the error and takes the new value.
  set_mode("good");
  root_.write("state/value", "two");
  clock_.advance(milliseconds(10000));
  EXPECT_TRUE(b->refresh());
  HostContext c = b->current();
  EXPECT_EQ(c.context["v"], "two");
  EXPECT_TRUE(provider_errors(c, "inc").empty());
}

TEST_F(BuilderTest, FailingFromTheStartHasNoValue) {
  add_scripted("inc");
  set_mode("fail");
  auto b = create(options());
  HostContext c = b->current();
  EXPECT_FALSE(c.context.contains("v"));
  ASSERT_EQ(provider_errors(c, "inc").size(), 1u);
  EXPECT_NE(provider_errors(c, "inc")[0]["message"].get<std::string>().find("ticket API down"),
            std::string::npos);
}

TEST_F(BuilderTest, ReloadDropsRemovedProvidersAndRerunsTheRest) {
  add_scripted("a");
  root_.script("providers.d/b", "echo '{\"b_key\": 1}'");
  auto b = create(options());
  ASSERT_EQ(b->current().context["b_key"], 1);
  auto gen = b->current().generation;
  root_.remove("providers.d/b");
  auto r = b->reload(options());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  HostContext c = b->current();
  EXPECT_FALSE(c.context.contains("b_key"));
  EXPECT_FALSE(c.sources.contains("b_key"));
  EXPECT_EQ(c.generation, gen + 1);
  EXPECT_EQ(runs(), 2);  // "a" reran on reload although its TTL had not run out
}

TEST_F(BuilderTest, ProvidersOverrideFilesAndCannotSetReservedKeys) {
  root_.write("context.d/a.yaml", "incident_open: false\ntier: gold\n");
  root_.script("providers.d/incident",
               R"(echo '{"incident_open": true, "host": "x", "targetingKey": "y"}')");
  auto b = create(options());
  HostContext c = b->current();
  EXPECT_EQ(c.context["incident_open"], true);
  EXPECT_EQ(c.sources["incident_open"], "provider:incident");
  EXPECT_EQ(c.overridden["incident_open"], Json::array({"context.d/a.yaml"}));
  EXPECT_EQ(c.context["tier"], "gold");
  EXPECT_TRUE(c.context["host"].is_object());
  EXPECT_EQ(c.context["targetingKey"], "host-1");
  EXPECT_EQ(provider_errors(c, "incident").size(), 2u);
}

TEST_F(BuilderTest, GenerationIgnoresTimeButFollowsValues) {
  add_scripted("p");
  auto b = create(options());
  HostContext first = b->current();
  clock_.advance(milliseconds(3600 * 1000));
  HostContext later = b->current();
  EXPECT_EQ(later.generation, first.generation);
  EXPECT_NE(later.context["time"]["unix"], first.context["time"]["unix"]);
  // A reload that changes nothing keeps the generation.
  root_.write("state/runs", "");  // keep "runs" in the output constant
  ASSERT_TRUE(b->reload(options()).ok());
  auto g = b->current().generation;
  root_.write("state/runs", "");
  auto r = b->reload(options());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(b->current().generation, g);
}

TEST_F(BuilderTest, TimeFieldsFollowTheClockInTheZone) {
  auto b = create(options());
  clock_.set_wall(testing::unix_seconds(1781506799));  // 2026-06-15T06:59:59Z, 08:59:59 CEST
  Json t = b->current().context["time"];
  EXPECT_EQ(t["hour"], 8);
  EXPECT_EQ(t["weekday"], "mon");
  EXPECT_EQ(t["zone"], "Europe/Berlin");
}

TEST_F(BuilderTest, UnknownZoneFailsCreateAndReloadKeepsTheOldContext) {
  auto o = options();
  o.time_zone = "Europe/Atlantis";
  auto bad = ContextBuilder::create(o, clock_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "unknown_time_zone");

  auto b = create(options());
  auto r = b->reload(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(b->current().context["time"]["zone"], "Europe/Berlin");
  EXPECT_EQ(b->current().time_zone, "Europe/Berlin");
}

TEST_F(BuilderTest, HostZoneFromTheFakeRoot) {
  auto o = options();
  o.time_zone.clear();
  root_.write("etc/timezone", "America/New_York\n");
  auto b = create(o);
  EXPECT_EQ(b->current().context["time"]["zone"], "America/New_York");
  root_.write("etc/timezone", "Not/A_Zone\n");
  auto r = b->reload(o);
  ASSERT_FALSE(r.ok());  // a host zone that names nothing is an error too, never a silent UTC
  EXPECT_NE(r.error().message.find("Not/A_Zone"), std::string::npos);
}

TEST_F(BuilderTest, NoProvidersMeansNoRefreshWork) {
  auto b = create(options());
  EXPECT_EQ(b->next_refresh(), std::chrono::steady_clock::time_point::max());
  EXPECT_FALSE(b->refresh());
}

TEST_F(BuilderTest, ReadersSeeWholeSnapshotsWhileRefreshRuns) {
  // Two attributes always printed equal: a reader must never see them differ.
  root_.script("providers.d/pair",
               "n=$(wc -l < \"$DIR/runs\" 2>/dev/null || echo 0); echo run >> \"$DIR/runs\"; "
               "echo \"{\\\"x\\\": $n, \\\"y\\\": $n}\"");
  auto b = create(options());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    std::uint64_t last_gen = 0;
    while (!stop) {
      HostContext c = b->current();
      if (c.context["x"] != c.context["y"] || c.generation < last_gen) ++torn;
      last_gen = c.generation;
      ++reads;
    }
  });
  for (int i = 0; i < 10; ++i) {
    clock_.advance(milliseconds(60000));
    EXPECT_TRUE(b->refresh());
  }
  ASSERT_TRUE(b->reload(options()).ok());
  ASSERT_TRUE(testing::wait_for([&] { return reads.load() > 0; }));
  stop = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(b->current().context["x"], 11);
}

}  // namespace
}  // namespace ff::context
