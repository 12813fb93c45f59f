// flagd's `starts_with` / `ends_with` (flagd-notes §2; flagd
// docs/reference/specifications/custom-operations/string-comparison-operation-spec.md), with
// vectors from the flagd-testbed (@string, @operator-errors) and flagd's own evaluator tests.
#include <gtest/gtest.h>

#include <optional>

#include "common/eval/ops.h"
#include "common/eval/resolver.h"
#include "eval_test_util.h"

namespace ff::eval::test {
namespace {

std::optional<bool> sw(const char* args) {
  return starts_with(j(args));
}
std::optional<bool> ew(const char* args) {
  return ends_with(j(args));
}

TEST(StartsWith, Matches) {
  // string-comparison-operation-spec.md example (email "user@faas.com", prefix "user@faas").
  EXPECT_EQ(sw(R"(["user@faas.com","user@faas"])"), true);
  EXPECT_EQ(sw(R"(["user@faas.com","nope"])"), false);
  EXPECT_EQ(sw(R"(["abcdef","abc"])"), true);
  EXPECT_EQ(sw(R"(["abc","abc"])"), true);
  EXPECT_EQ(sw(R"(["ab","abc"])"), false);
  EXPECT_EQ(sw(R"(["abc",""])"), true);
  EXPECT_EQ(sw(R"(["",""])"), true);
  EXPECT_EQ(sw(R"(["","a"])"), false);
}

TEST(EndsWith, Matches) {
  // string-comparison-operation-spec.md (suffix "faas.com").
  EXPECT_EQ(ew(R"(["user@faas.com","faas.com"])"), true);
  EXPECT_EQ(ew(R"(["user@faas.com","nope"])"), false);
  EXPECT_EQ(ew(R"(["uvwxyz","xyz"])"), true);
  EXPECT_EQ(ew(R"(["xyz","xyz"])"), true);
  EXPECT_EQ(ew(R"(["yz","xyz"])"), false);
  EXPECT_EQ(ew(R"(["abc",""])"), true);
}

TEST(StringOps, CaseSensitive) {
  // flagd-notes §2: "Matching is case-sensitive".
  EXPECT_EQ(sw(R"(["Abcdef","abc"])"), false);
  EXPECT_EQ(ew(R"(["uvwXYZ","xyz"])"), false);
}

TEST(StringOps, Utf8) {
  // Byte-wise prefix/suffix on UTF-8 text (testbed testing-flags.json uses Polish names).
  EXPECT_EQ(sw(R"(["Świętopełk","Świ"])"), true);
  EXPECT_EQ(ew(R"(["Świętopełk","pełk"])"), true);
  EXPECT_EQ(sw(R"(["Świętopełk","S"])"), false);
}

TEST(StringOps, BadInputIsNull) {
  // flagd-notes §2: "Exactly 2 arguments, both resolving to strings; anything else returns
  // null"; testbed @operator-errors (non-string input, wrong argument count).
  for (const char* args :
       {R"([123,"abc"])", R"(["abc",3])", R"(["abc"])", "[]", R"(["a","b","c"])", R"("abc")",
        R"([null,"a"])", R"([{"a":1},"a"])", R"([["abc"],"a"])", R"([true,"t"])"}) {
    EXPECT_FALSE(sw(args).has_value()) << "starts_with " << args;
    EXPECT_FALSE(ew(args).has_value()) << "ends_with " << args;
  }
}

TEST(StringOps, InsideJsonLogic) {
  // testbed starts-with-non-string-flag / ends-with-wrong-args-flag: the operator yields null.
  EXPECT_TRUE(evals_to(R"({"starts_with":[{"var":"id"},"abc"]})", R"({"id":"abcdef"})", "true"));
  EXPECT_TRUE(evals_to(R"({"ends_with":[{"var":"id"},"xyz"]})", R"({"id":"abcdef"})", "false"));
  EXPECT_TRUE(evals_to(R"({"starts_with":[{"var":"num"},"abc"]})", R"({"num":123})", "null"));
  EXPECT_TRUE(evals_to(R"({"ends_with":[{"var":"num"},"xyz"]})", R"({"num":123})", "null"));
  EXPECT_TRUE(evals_to(R"({"starts_with":["abc"]})", "{}", "null"));
  EXPECT_TRUE(evals_to(R"({"ends_with":["xyz"]})", "{}", "null"));
  EXPECT_TRUE(evals_to(R"({"starts_with":[{"var":"missing"},"a"]})", "{}", "null"));
}

TEST(StringOps, TestbedStartsEndsFlag) {
  // testbed "Substring operators" (starts-ends-flag), including the "3" row whose third branch
  // is ends_with with a non-string target (null, so "none").
  auto engine = make_engine(R"({"flags":{"starts-ends-flag":{"state":"ENABLED",
    "variants":{"prefix":"prefix","postfix":"postfix","none":"none"},"defaultVariant":"none",
    "targeting":{"if":[{"starts_with":[{"var":"id"},"abc"]},"prefix",
      {"if":[{"ends_with":[{"var":"id"},"xyz"]},"postfix",
        {"if":[{"ends_with":[{"var":"id"},3]},"fail","none"]}]}]}}}})");
  ASSERT_NE(engine, nullptr);
  const char* const cases[][2] = {{"abcdef", "prefix"},
                                  {"uvwxyz", "postfix"},
                                  {"abcxyz", "prefix"},
                                  {"lmnopq", "none"},
                                  {"3", "none"}};
  for (const auto& c : cases) {
    auto r = engine->resolve("starts-ends-flag", Json{{"id", c[0]}}, 0);
    EXPECT_TRUE(resolved(r, Reason::kTargetingMatch, c[1], Json(c[1]).dump())) << c[0];
  }
}

TEST(StringOps, NullInIfWithoutElseGivesDefault) {
  // flagd-notes §2: null from a custom operator is falsy; with no else branch the targeting
  // result is null and the flag resolves to its default variant with reason DEFAULT.
  auto engine = make_engine(R"({"flags":{"f":{"state":"ENABLED",
    "variants":{"hit":"hit","fallback":"fallback"},"defaultVariant":"fallback",
    "targeting":{"if":[{"starts_with":[{"var":"num"},"abc"]},"hit"]}}}})");
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(resolved(engine->resolve("f", j(R"({"num":123})"), 0), Reason::kDefault, "fallback",
                       R"("fallback")"));
  EXPECT_TRUE(resolved(engine->resolve("f", j(R"({"num":"abc1"})"), 0), Reason::kTargetingMatch,
                       "hit", R"("hit")"));
}

}  // namespace
}  // namespace ff::eval::test
