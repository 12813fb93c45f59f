// Tests of the offline CLI subcommands through their library entry points, on real temp files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/cli/offline.h"
#include "common/json/json.h"

namespace fs = std::filesystem;
using ff::Json;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ffcli.XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& body) const {
    const auto p = path_ / name;
    std::ofstream(p) << body;
    return p.string();
  }

 private:
  fs::path path_;
};

const char* kFlags = R"({
  "metadata": {"flagSetId": "cli"},
  "flags": {
    "wave": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
             "targeting": {"if": [{"==": [{"var": "tier"}, "internal"]}, "on", null]}},
    "ts":   {"state": "ENABLED", "variants": {"late": "late", "early": "early"}, "defaultVariant": "early",
             "targeting": {"if": [{">=": [{"var": "$flagd.timestamp"}, 1000]}, "late", "early"]}},
    "off":  {"state": "DISABLED", "variants": {"a": 1}, "defaultVariant": "a"}
  }
})";

std::vector<Json> lines(const std::string& s) {
  std::vector<Json> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(Json::parse(line));
  return out;
}

const Json& flag(const Json& bulk, const std::string& key) {
  for (const auto& f : bulk["flags"]) {
    if (f["key"] == key) return f;
  }
  throw std::runtime_error("no flag " + key);
}

TEST(Validate, ValidFileExitsZero) {
  TempDir d;
  std::ostringstream out, err;
  EXPECT_EQ(ff::cli::run_validate(d.write("f.json", kFlags), out, err), ff::cli::kExitOk);
  EXPECT_NE(out.str().find("valid"), std::string::npos);
}

TEST(Validate, InvalidFileListsPathQualifiedErrors) {
  TempDir d;
  const auto f =
      d.write("bad.json", R"({"flags":{"x":{"state":"MAYBE","variants":{"a":true,"b":"s"}}}})");
  std::ostringstream out, err;
  EXPECT_EQ(ff::cli::run_validate(f, out, err), ff::cli::kExitInvalid);
  EXPECT_NE(out.str().find(":/flags/x/state:"), std::string::npos) << out.str();
}

TEST(Validate, MissingFileIsUsageError) {
  std::ostringstream out, err;
  EXPECT_EQ(ff::cli::run_validate("/nonexistent/flags.json", out, err), ff::cli::kExitUsage);
  EXPECT_FALSE(err.str().empty());
}

TEST(Eval, SingleContextPrintsOfrepBulkBody) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write("f.json", kFlags);
  o.now = 2000;
  o.context = R"({"targetingKey":"h1","tier":"internal"})";
  std::ostringstream out, err;
  ASSERT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitOk) << err.str();
  const Json body = Json::parse(out.str());
  EXPECT_EQ(body["metadata"]["flagSetId"], "cli");
  EXPECT_EQ(flag(body, "wave")["value"], true);
  EXPECT_EQ(flag(body, "wave")["reason"], "TARGETING_MATCH");
  EXPECT_EQ(flag(body, "ts")["variant"], "late");
  EXPECT_EQ(flag(body, "off")["reason"], "DISABLED");
  EXPECT_FALSE(flag(body, "off").contains("value"));
}

TEST(Eval, NowFixesFlagdTimestamp) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write("f.json", kFlags);
  o.flag = "ts";
  o.now = 999;
  o.context = "{}";
  std::ostringstream out, err;
  ASSERT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitOk);
  EXPECT_EQ(Json::parse(out.str())["variant"], "early");
}

TEST(Eval, ContextFromFile) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write("f.json", kFlags);
  o.flag = "wave";
  o.context = "@" + d.write("ctx.json", R"({"tier":"paying"})");
  std::ostringstream out, err;
  ASSERT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitOk);
  const Json body = Json::parse(out.str());
  EXPECT_EQ(body["reason"], "DEFAULT");
  EXPECT_EQ(body["value"], false);
}

TEST(Eval, ContextsFileGivesOneBodyPerLineInOrderAndFlagsBadLines) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write("f.json", kFlags);
  o.contexts = d.write("c.jsonl", "{\"tier\":\"internal\"}\n\nnot json\n[1]\n{\"tier\":\"x\"}\n");
  std::ostringstream out, err;
  EXPECT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitInvalid);
  const auto bodies = lines(out.str());
  ASSERT_EQ(bodies.size(), 4u);
  EXPECT_EQ(flag(bodies[0], "wave")["value"], true);
  EXPECT_EQ(bodies[1]["errorCode"], "INVALID_CONTEXT");
  EXPECT_EQ(bodies[2]["errorCode"], "INVALID_CONTEXT");
  EXPECT_EQ(flag(bodies[3], "wave")["value"], false);
}

TEST(Eval, SummaryCountsVariantsPerFlag) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write("f.json", kFlags);
  o.contexts =
      d.write("c.jsonl", "{\"tier\":\"internal\"}\n{\"tier\":\"internal\"}\n{\"tier\":\"x\"}\n");
  o.summary = true;
  std::ostringstream out, err;
  ASSERT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitOk);
  const auto s = out.str();
  EXPECT_NE(s.find("3 contexts evaluated"), std::string::npos) << s;
  EXPECT_NE(s.find("on                                  2   66.7%"), std::string::npos) << s;
  EXPECT_NE(s.find("off                                 1   33.3%"), std::string::npos) << s;
}

TEST(Eval, StructurallyBrokenDefinitionsAreRefused) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write(
      "f.json", R"({"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"zz"}}})");
  o.context = "{}";
  std::ostringstream out, err;
  EXPECT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitUsage);
  EXPECT_NE(err.str().find("/flags/x/defaultVariant"), std::string::npos) << err.str();
}

TEST(Eval, BadTargetingOnlyBreaksThatFlag) {
  TempDir d;
  ff::cli::EvalOptions o;
  o.flags_file = d.write("f.json", R"({"flags":{
    "bad":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"a","targeting":{"no_such_op":[1]}},
    "good":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"a"}}})");
  o.context = "{}";
  std::ostringstream out, err;
  ASSERT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitOk);
  const Json body = Json::parse(out.str());
  EXPECT_EQ(flag(body, "bad")["errorCode"], "PARSE_ERROR");
  EXPECT_EQ(flag(body, "good")["reason"], "STATIC");
  EXPECT_NE(err.str().find("warning"), std::string::npos);
}

TEST(Eval, RequiresExactlyOneContextSource) {
  ff::cli::EvalOptions o;
  o.flags_file = "/dev/null";
  std::ostringstream out, err;
  EXPECT_EQ(ff::cli::run_eval(o, out, err), ff::cli::kExitUsage);
}

}  // namespace
