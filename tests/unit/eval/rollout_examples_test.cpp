// The flag examples of docs/context.md (examples/rollouts/flags.json) do what the page says,
// evaluated over a synthetic fleet with the context fields the agent builds (time.*, canary.*,
// incident_open from a provider). The engine itself is checked against flagd-core by the
// differential test; this file pins the documented behaviour of the examples.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "common/eval/resolver.h"
#include "common/flags/model.h"

namespace ff::eval {
namespace {

constexpr std::int64_t kNow = 1'796'000'000;

std::string example_text() {
  std::ifstream in(std::string(FF_SOURCE_DIR) + "/examples/rollouts/flags.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Engine engine_from(const std::string& text) {
  auto set = flags::load(std::string_view(text));
  EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().to_string());
  return Engine(std::move(*set));
}

std::string variant(const Engine& e, std::string_view key, const Json& ctx) {
  const Resolution r = e.resolve(key, ctx, kNow);
  EXPECT_NE(r.reason, Reason::kError) << key << ": " << r.error_details;
  return r.variant != nullptr ? *r.variant : "<none>";
}

Json host(int i, const char* tier) {
  return Json{{"targetingKey", "host-" + std::to_string(i)}, {"tier", tier}};
}

TEST(RolloutExamples, ValidAndCompileWithoutErrors) {
  auto set = flags::load(std::string_view(example_text()));
  ASSERT_TRUE(set.ok()) << set.error().to_string();
  Engine e(std::move(*set));
  EXPECT_TRUE(e.compile_errors().empty());
  EXPECT_EQ(e.size(), 4u);
}

// "Paying customers 5% then 25% then 100%": free hosts never; the 5% wave is about 5% of paying
// hosts; raising the weight keeps every host already on "new" (buckets grow from the front).
TEST(RolloutExamples, PayingCustomerWavesGrowWithoutReshuffling) {
  const std::string text = example_text();
  const std::string wave5 = R"(["new", 5], ["old", 95])";
  ASSERT_NE(text.find(wave5), std::string::npos);
  auto with_weight = [&](int pct) {
    std::string t = text;
    t.replace(
        t.find(wave5), wave5.size(),
        "[\"new\", " + std::to_string(pct) + "], [\"old\", " + std::to_string(100 - pct) + "]");
    return engine_from(t);
  };
  const Engine e5 = engine_from(text);
  const Engine e25 = with_weight(25);
  const Engine e100 = with_weight(100);
  constexpr int kHosts = 4000;
  std::set<int> in5, in25;
  for (int i = 0; i < kHosts; ++i) {
    EXPECT_EQ(variant(e100, "nginx-1-26-paying-waves", host(i, "free")), "old");
    const Json paying = host(i, i % 2 == 0 ? "pro" : "enterprise");
    if (variant(e5, "nginx-1-26-paying-waves", paying) == "new") in5.insert(i);
    if (variant(e25, "nginx-1-26-paying-waves", paying) == "new") in25.insert(i);
    EXPECT_EQ(variant(e100, "nginx-1-26-paying-waves", paying), "new");
  }
  EXPECT_GT(in5.size(), kHosts * 3 / 100);
  EXPECT_LT(in5.size(), kHosts * 7 / 100);
  EXPECT_GT(in25.size(), kHosts * 22 / 100);
  EXPECT_LT(in25.size(), kHosts * 28 / 100);
  for (int i : in5) EXPECT_TRUE(in25.count(i)) << "host-" << i << " left the wave at 25%";
}

// "Only Tuesday-Thursday 09:00-16:00 local": minuteOfDay 540 opens, 960 closes.
TEST(RolloutExamples, ChangeWindowEdges) {
  const Engine e = engine_from(example_text());
  auto at = [&](const char* weekday, int hour, int minute) {
    Json ctx = host(1, "pro");
    ctx["time"] = Json{{"weekday", weekday},
                       {"hour", hour},
                       {"minute", minute},
                       {"minuteOfDay", hour * 60 + minute}};
    return variant(e, "kernel-patch-change-window", ctx);
  };
  EXPECT_EQ(at("mon", 10, 0), "hold");
  EXPECT_EQ(at("tue", 8, 59), "hold");
  EXPECT_EQ(at("tue", 9, 0), "apply");
  EXPECT_EQ(at("wed", 12, 30), "apply");
  EXPECT_EQ(at("thu", 15, 59), "apply");
  EXPECT_EQ(at("thu", 16, 0), "hold");
  EXPECT_EQ(at("fri", 10, 0), "hold");
  Json no_time = host(1, "pro");
  EXPECT_EQ(variant(e, "kernel-patch-change-window", no_time), "hold");
}

// "Never hosts with an open incident": only an explicit `incident_open: false` lets a host in;
// a provider that never answered (attribute absent) keeps it out.
TEST(RolloutExamples, OpenIncidentOrUnknownKeepsHostsOut) {
  const Engine e = engine_from(example_text());
  int on = 0;
  for (int i = 0; i < 400; ++i) {
    Json ctx = host(i, "pro");
    EXPECT_EQ(variant(e, "openssl-3-upgrade-no-incidents", ctx), "off");
    ctx["incident_open"] = true;
    EXPECT_EQ(variant(e, "openssl-3-upgrade-no-incidents", ctx), "off");
    ctx["incident_open"] = "false";  // a string is not the boolean false
    EXPECT_EQ(variant(e, "openssl-3-upgrade-no-incidents", ctx), "off");
    ctx["incident_open"] = false;
    if (variant(e, "openssl-3-upgrade-no-incidents", ctx) == "on") ++on;
  }
  EXPECT_GT(on, 140);
  EXPECT_LT(on, 260);
}

// "Prefer hosts that were not canaries lately": never a canary, or not for 30 days, and fewer
// than 3 canary waves in the window; only those enter the 10% canary bucket.
TEST(RolloutExamples, FreshHostsOnlyForTheNextCanaryWave) {
  const Engine e = engine_from(example_text());
  int fresh_canaries = 0;
  for (int i = 0; i < 1000; ++i) {
    Json ctx = host(i, "pro");
    ctx["canary"] = Json{{"count", 0}};
    const std::string never = variant(e, "postgres-16-fresh-canaries", ctx);
    if (never == "canary") ++fresh_canaries;
    ctx["canary"] = Json{{"count", 1}, {"daysSinceLast", 29}};
    EXPECT_EQ(variant(e, "postgres-16-fresh-canaries", ctx), "stable");
    ctx["canary"] = Json{{"count", 1}, {"daysSinceLast", 30}};
    EXPECT_EQ(variant(e, "postgres-16-fresh-canaries", ctx), never);
    ctx["canary"] = Json{{"count", 3}, {"daysSinceLast", 90}};
    EXPECT_EQ(variant(e, "postgres-16-fresh-canaries", ctx), "stable");
  }
  EXPECT_GT(fresh_canaries, 60);
  EXPECT_LT(fresh_canaries, 140);
}

}  // namespace
}  // namespace ff::eval
