// context.d files and config attributes: order, overrides, bad files, reserved keys, YAML types.
#include <gtest/gtest.h>

#include <string>

#include "agent/context/context.h"
#include "agent/context/internal.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/context/context_test_util.h"

namespace ff::context {
namespace {

using testing::TempDir;

class ContextDirTest : public ::testing::Test {
 protected:
  ContextOptions options() const {
    ContextOptions o;
    o.root = root_.path();
    o.context_dir = root_.file("context.d");
    o.providers_dir = root_.file("providers.d");
    o.time_zone = "UTC";
    o.targeting_key = "t";
    return o;
  }
  HostContext build(const ContextOptions& o) {
    auto b = ContextBuilder::create(o, clock_);
    EXPECT_TRUE(b.ok());
    return b.ok() ? (*b)->current() : HostContext{};
  }
  // Messages of the errors whose source is `source`.
  static std::vector<std::string> errors_of(const HostContext& c, const std::string& source) {
    std::vector<std::string> out;
    for (const auto& e : c.errors) {
      if (e["source"] == source) out.push_back(e["message"]);
    }
    return out;
  }

  ff::testing::FakeClock clock_;
  TempDir root_;
};

TEST_F(ContextDirTest, ConfigThenFilesInNameOrder) {
  root_.write("context.d/20-salt.yaml", "tier: gold\nregion: eu-west\n");
  root_.write("context.d/10-base.json", R"({"tier": "silver", "owner": "team-a"})");
  root_.write("context.d/30-role.yml", "role: web\nregion: eu-central\n");
  auto o = options();
  o.attributes = Json{{"owner", "config-owner"}, {"env", "prod"}};
  HostContext c = build(o);
  EXPECT_EQ(c.context["env"], "prod");
  EXPECT_EQ(c.sources["env"], "config");
  EXPECT_EQ(c.context["owner"], "team-a");
  EXPECT_EQ(c.sources["owner"], "context.d/10-base.json");
  EXPECT_EQ(c.context["tier"], "gold");
  EXPECT_EQ(c.sources["tier"], "context.d/20-salt.yaml");
  EXPECT_EQ(c.context["region"], "eu-central");
  EXPECT_EQ(c.sources["region"], "context.d/30-role.yml");
  EXPECT_EQ(c.context["role"], "web");
  EXPECT_EQ(c.overridden["owner"], Json::array({"config"}));
  EXPECT_EQ(c.overridden["tier"], Json::array({"context.d/10-base.json"}));
  EXPECT_EQ(c.overridden["region"], Json::array({"context.d/20-salt.yaml"}));
  EXPECT_FALSE(c.overridden.contains("role"));
  EXPECT_TRUE(c.errors.empty()) << c.errors.dump();
}

TEST_F(ContextDirTest, BrokenFilesAreReportedAndDoNotAffectOthers) {
  root_.write("context.d/10-good.json", R"({"a": 1})");
  root_.write("context.d/20-garbage.json", "{not json");
  root_.write("context.d/30-bad.yaml", "key: [unclosed\n");
  root_.write("context.d/40-list.yaml", "- a\n- b\n");
  root_.write("context.d/50-deep.json", std::string(100, '[') + std::string(100, ']'));
  root_.write("context.d/60-huge.json",
              "{\"x\": \"" + std::string(kMaxAttributeFileBytes, 'x') + "\"}");
  root_.write("context.d/70-good.yaml", "b: 2\n");
  HostContext c = build(options());
  EXPECT_EQ(c.context["a"], 1);
  EXPECT_EQ(c.context["b"], 2);
  EXPECT_FALSE(c.context.contains("x"));
  EXPECT_EQ(errors_of(c, "context.d/20-garbage.json").size(), 1u);
  EXPECT_EQ(errors_of(c, "context.d/30-bad.yaml").size(), 1u);
  EXPECT_EQ(errors_of(c, "context.d/40-list.yaml").size(), 1u);
  ASSERT_EQ(errors_of(c, "context.d/50-deep.json").size(), 1u);
  EXPECT_NE(errors_of(c, "context.d/50-deep.json")[0].find("too_deep"), std::string::npos);
  ASSERT_EQ(errors_of(c, "context.d/60-huge.json").size(), 1u);
  EXPECT_NE(errors_of(c, "context.d/60-huge.json")[0].find("larger than"), std::string::npos);
  EXPECT_EQ(c.errors.size(), 5u);
  for (const auto& e : c.errors) EXPECT_FALSE(e["at"].get<std::string>().empty());
}

TEST_F(ContextDirTest, ReservedKeysAreRefusedPerKey) {
  root_.write("context.d/a.json",
              R"({"host": {"hostname": "evil"}, "targetingKey": "x", "ok": true})");
  auto o = options();
  o.attributes = Json{{"time", 1}, {"canary", 2}, {"fine", 3}};
  HostContext c = build(o);
  EXPECT_EQ(c.context["ok"], true);
  EXPECT_EQ(c.context["fine"], 3);
  EXPECT_EQ(c.context["targetingKey"], "t");
  EXPECT_NE(c.context["host"].value("hostname", ""), "evil");
  EXPECT_TRUE(c.context["time"].is_object());
  EXPECT_FALSE(c.context.contains("canary"));
  EXPECT_EQ(errors_of(c, "context.d/a.json").size(), 2u);
  EXPECT_EQ(errors_of(c, "config").size(), 2u);
}

TEST_F(ContextDirTest, SkipsDotfilesOtherExtensionsAndDirectories) {
  root_.write("context.d/.hidden.json", R"({"hidden": 1})");
  root_.write("context.d/notes.txt", "x: 1");
  root_.write("context.d/a.json~", R"({"backup": 1})");
  root_.mkdir("context.d/dir.json");
  root_.write("context.d/empty.yaml", "");
  HostContext c = build(options());
  EXPECT_FALSE(c.context.contains("hidden"));
  EXPECT_FALSE(c.context.contains("x"));
  EXPECT_FALSE(c.context.contains("backup"));
  EXPECT_TRUE(c.errors.empty()) << c.errors.dump();
}

TEST_F(ContextDirTest, MissingDirectoryIsNotAnError) {
  HostContext c = build(options());
  EXPECT_TRUE(c.errors.empty());
}

TEST_F(ContextDirTest, ReloadDropsValuesOfRemovedOrBrokenFiles) {
  root_.write("context.d/a.json", R"({"a": 1})");
  root_.write("context.d/b.json", R"({"b": 1})");
  auto b = ContextBuilder::create(options(), clock_);
  ASSERT_TRUE(b.ok());
  auto gen = (*b)->current().generation;
  root_.remove("context.d/a.json");
  root_.write("context.d/b.json", "{broken");
  auto r = (*b)->reload(options());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  HostContext c = (*b)->current();
  EXPECT_FALSE(c.context.contains("a"));
  EXPECT_FALSE(c.context.contains("b"));
  EXPECT_FALSE(c.sources.contains("a"));
  EXPECT_EQ(errors_of(c, "context.d/b.json").size(), 1u);
  EXPECT_GT(c.generation, gen);
  // Fixing it clears the error.
  root_.write("context.d/b.json", R"({"b": 2})");
  ASSERT_TRUE((*b)->reload(options()).ok());
  c = (*b)->current();
  EXPECT_EQ(c.context["b"], 2);
  EXPECT_TRUE(c.errors.empty());
}

TEST(YamlToJson, ScalarTypes) {
  auto r = detail::yaml_to_json(
      "t: true\nT: True\nf: FALSE\nn: null\ntilde: ~\nempty:\ni: 42\nneg: -7\nhex: 0x1F\n"
      "oct: 0o17\nf1: 1.5\nf2: -2e3\nf3: .5\nqs: \"42\"\nss: 'true'\ntagged: !!str 12\n"
      "yes: yes\nver: 1.2.3\ninf: .inf\nbig: 99999999999999999999\nzip: 01234\n"
      "list: [1, two, 3.0]\nmap: {a: {b: c}}\n",
      32);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const Json& j = *r;
  EXPECT_EQ(j["t"], true);
  EXPECT_EQ(j["T"], true);
  EXPECT_EQ(j["f"], false);
  EXPECT_TRUE(j["n"].is_null());
  EXPECT_TRUE(j["tilde"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["i"], 42);
  EXPECT_TRUE(j["i"].is_number_integer());
  EXPECT_EQ(j["neg"], -7);
  EXPECT_EQ(j["hex"], 31);
  EXPECT_EQ(j["oct"], 15);
  EXPECT_EQ(j["f1"], 1.5);
  EXPECT_EQ(j["f2"], -2000.0);
  EXPECT_EQ(j["f3"], 0.5);
  EXPECT_EQ(j["qs"], "42");
  EXPECT_EQ(j["ss"], "true");
  EXPECT_EQ(j["tagged"], "12");
  EXPECT_EQ(j["yes"], "yes");  // YAML 1.2: not a boolean
  EXPECT_EQ(j["ver"], "1.2.3");
  EXPECT_EQ(j["inf"], ".inf");
  EXPECT_EQ(j["big"], 1e20);  // too large for int64: a float
  EXPECT_EQ(j["zip"], 1234);  // core schema: leading zeros are decimal
  EXPECT_EQ(j["list"], Json::array({1, "two", 3.0}));
  EXPECT_EQ(j["map"]["a"]["b"], "c");
}

TEST(YamlToJson, DepthLimitAndErrors) {
  EXPECT_EQ(detail::yaml_to_json("a: {b: {c: 1}}", 2).error().code, "too_deep");
  EXPECT_TRUE(detail::yaml_to_json("a: {b: {c: 1}}", 3).ok());
  EXPECT_EQ(detail::yaml_to_json("a: [1,", 8).error().code, "invalid_yaml");
  EXPECT_EQ(detail::yaml_to_json("? [a, b]\n: 1\n", 8).error().code, "invalid_yaml");
}

}  // namespace
}  // namespace ff::context
