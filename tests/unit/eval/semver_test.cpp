// flagd's `sem_ver` operator (flagd-notes §2 "sem_ver"; flagd
// docs/reference/specifications/custom-operations/semver-operation-spec.md) with vectors from the
// flagd-testbed (@semver, @semver-edge-cases, @operator-errors) and from semver.org §11.
// flagd (Go) normalises with "%v", an optional v/V prefix and golang.org/x/mod/semver.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/eval/ops.h"
#include "common/eval/resolver.h"
#include "eval_test_util.h"

namespace ff::eval::test {
namespace {

std::optional<bool> sv(const char* args) {
  return sem_ver(j(args));
}

::testing::AssertionResult is_null(const std::optional<bool>& r) {
  if (r.has_value()) return ::testing::AssertionFailure() << "expected null, got " << *r;
  return ::testing::AssertionSuccess();
}

TEST(SemVerParse, FullAndPartialVersions) {
  // flagd-notes §2: optional v/V prefix; partial "1" / "1.2" are filled with zeros.
  for (const char* text : {"1.2.3", "v1.2.3", "V1.2.3"}) {
    auto v = parse_semver(text);
    ASSERT_TRUE(v.has_value()) << text;
    EXPECT_EQ(v->major, "1");
    EXPECT_EQ(v->minor, "2");
    EXPECT_EQ(v->patch, "3");
    EXPECT_EQ(v->prerelease, "");
  }
  auto one = parse_semver("1");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->major, "1");
  EXPECT_EQ(one->minor, "0");
  EXPECT_EQ(one->patch, "0");
  auto two = parse_semver("1.2");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->minor, "2");
  EXPECT_EQ(two->patch, "0");
}

TEST(SemVerParse, PrereleaseKeptBuildDropped) {
  // semver.org §9/§10; flagd-notes §2 "+build is ignored".
  auto v = parse_semver("1.2.3-rc.1+build.5");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->prerelease, "rc.1");
  auto b = parse_semver("1.0.0+build");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->prerelease, "");
}

TEST(SemVerParse, RejectsInvalid) {
  // testbed "2.0.0.0" is invalid; semver.org §2/§9 forbid leading zeros and empty identifiers;
  // golang.org/x/mod/semver only accepts a pre-release after a full major.minor.patch.
  for (const char* text :
       {"", "not-a-version", "2.0.0.0", "1.2.3-", "01.0.0", "1.02.0", "1.2.3-01", "1.2.3-alpha..1",
        "1.2-beta", "v", "1..2", "-1.0.0", "1.0.0 ", "1.a.0"}) {
    EXPECT_FALSE(parse_semver(text).has_value()) << '"' << text << '"';
  }
}

TEST(SemVerCompare, PrecedenceChain) {
  // semver.org §11 example: each version has lower precedence than the next.
  const char* chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                         "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                         "1.0.0-rc.1",  "1.0.0",         "2.0.0",
                         "2.1.0",       "2.1.1",         "10.0.0"};
  for (std::size_t i = 0; i + 1 < std::size(chain); ++i) {
    auto a = parse_semver(chain[i]);
    auto b = parse_semver(chain[i + 1]);
    ASSERT_TRUE(a && b) << chain[i] << " / " << chain[i + 1];
    EXPECT_LT(compare_semver(*a, *b), 0) << chain[i] << " < " << chain[i + 1];
    EXPECT_GT(compare_semver(*b, *a), 0) << chain[i + 1] << " > " << chain[i];
  }
}

TEST(SemVerCompare, EqualityIgnoresBuildAndPrefix) {
  auto a = parse_semver("1.0.0+a");
  auto b = parse_semver("v1.0.0+b");
  auto c = parse_semver("1");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(compare_semver(*a, *b), 0);
  EXPECT_EQ(compare_semver(*a, *c), 0);
}

TEST(SemVerCompare, PrereleaseIdentifiers) {
  // semver.org §11.4: numeric identifiers compare numerically, and hyphens are allowed in
  // identifiers (§9: "1.0.0-x-y-z.--").
  auto a9 = parse_semver("1.0.0-alpha.9");
  auto a10 = parse_semver("1.0.0-alpha.10");
  ASSERT_TRUE(a9 && a10);
  EXPECT_LT(compare_semver(*a9, *a10), 0);
  auto hy = parse_semver("1.0.0-x-y-z.--");
  ASSERT_TRUE(hy.has_value());
  EXPECT_EQ(hy->prerelease, "x-y-z.--");
}

TEST(SemVerOp, LargeNumericComponents) {
  // golang.org/x/mod/semver compares numeric parts as decimal strings of any length, so flagd
  // (Go) accepts versions beyond 64 bits.
  EXPECT_EQ(sv(R"(["99999999999999999999.0.0",">","1.0.0"])"), true);
  EXPECT_EQ(sv(R"(["1.0.0","<","1.99999999999999999999.0"])"), true);
}

TEST(SemVerOp, TestbedNumericComparison) {
  // testbed "Semantic version operator numeric comparison" (equal-greater-lesser-version-flag).
  EXPECT_EQ(sv(R"(["2.0.0","=","2.0.0"])"), true);
  EXPECT_EQ(sv(R"(["2.1.0",">","2.0.0"])"), true);
  EXPECT_EQ(sv(R"(["2.1.0","=","2.0.0"])"), false);
  EXPECT_EQ(sv(R"(["1.9.0","<","2.0.0"])"), true);
  EXPECT_EQ(sv(R"(["2.0.0-alpha","<","2.0.0"])"), true);
  EXPECT_EQ(sv(R"(["2.0.0-alpha","=","2.0.0"])"), false);
  EXPECT_TRUE(is_null(sv(R"(["2.0.0.0","=","2.0.0"])")));
}

TEST(SemVerOp, TestbedMinorMajorRange) {
  // testbed "semantic comparison" (major-minor-version-flag): ~ same major.minor, ^ same major.
  EXPECT_EQ(sv(R"(["3.0.1","~","3.0.0"])"), true);
  EXPECT_EQ(sv(R"(["3.1.0","~","3.0.0"])"), false);
  EXPECT_EQ(sv(R"(["3.1.0","^","3.0.0"])"), true);
  EXPECT_EQ(sv(R"(["4.0.0","^","3.0.0"])"), false);
  EXPECT_EQ(sv(R"(["4.0.0","~","3.0.0"])"), false);
}

TEST(SemVerOp, RangeOperatorsFollowGo) {
  // flagd semver.go: "~" compares semver.MajorMinor and "^" semver.Major only, so a pre-release
  // of the same minor matches "~" and 0.x versions match "^" on the 0 major (unlike npm's caret).
  EXPECT_EQ(sv(R"(["3.0.0-alpha","~","3.0.0"])"), true);
  EXPECT_EQ(sv(R"(["0.1.0","^","0.2.0"])"), true);
  EXPECT_EQ(sv(R"(["2.9.9","^","3.0.0"])"), false);
}

TEST(SemVerOp, OtherOperators) {
  // semver-operation-spec.md operators: = != < <= > >=.
  EXPECT_EQ(sv(R"(["1.0.0","!=","1.0.1"])"), true);
  EXPECT_EQ(sv(R"(["1.0.0","!=","1.0.0"])"), false);
  EXPECT_EQ(sv(R"(["1.0.0","<=","1.0.0"])"), true);
  EXPECT_EQ(sv(R"(["1.0.1","<=","1.0.0"])"), false);
  EXPECT_EQ(sv(R"(["1.0.1",">=","1.0.0"])"), true);
  EXPECT_EQ(sv(R"(["1.0.0",">=","1.0.1"])"), false);
  EXPECT_EQ(sv(R"(["10.0.0",">","9.0.0"])"), true);  // numeric, not lexicographic
}

TEST(SemVerOp, VPrefix) {
  // testbed "sem_ver v-prefix handling" (target "v1.0.0").
  EXPECT_EQ(sv(R"(["1.0.0","=","v1.0.0"])"), true);
  EXPECT_EQ(sv(R"(["v1.0.0","=","v1.0.0"])"), true);
  EXPECT_EQ(sv(R"(["V1.0.0","=","v1.0.0"])"), true);
  EXPECT_EQ(sv(R"(["2.0.0","=","v1.0.0"])"), false);
}

TEST(SemVerOp, PartialVersions) {
  // testbed "sem_ver partial version string handling" (target "^ 1"), string and numeric.
  EXPECT_EQ(sv(R"(["1.5.0","^","1"])"), true);
  EXPECT_EQ(sv(R"(["1.0.0","^","1"])"), true);
  EXPECT_EQ(sv(R"(["1.0","^","1"])"), true);
  EXPECT_EQ(sv(R"(["1","^","1"])"), true);
  EXPECT_EQ(sv(R"([1,"^","1"])"), true);
  EXPECT_EQ(sv(R"([1.0,"^","1"])"), true);
  EXPECT_EQ(sv(R"([1.2,"^","1"])"), true);
  EXPECT_EQ(sv(R"(["2.0.0","^","1"])"), false);
}

TEST(SemVerOp, NumericContextValues) {
  // testbed "sem_ver numeric context value coercion" (target "> 1.1"): numbers print with %v.
  EXPECT_EQ(sv(R"([1.2,">","1.1"])"), true);
  EXPECT_EQ(sv(R"([1.1,">","1.1"])"), false);
  EXPECT_EQ(sv(R"([2,">","1.1"])"), true);
  EXPECT_EQ(sv(R"([1,">","1.1"])"), false);
  EXPECT_EQ(sv(R"(["1.2",">","1.1"])"), true);
}

TEST(SemVerOp, BuildMetadataIgnored) {
  // testbed "sem_ver build metadata ignored" (target "1.0.0+build").
  EXPECT_EQ(sv(R"(["1.0.0","=","1.0.0+build"])"), true);
  EXPECT_EQ(sv(R"(["1.0.0+other","=","1.0.0+build"])"), true);
  EXPECT_EQ(sv(R"(["2.0.0","=","1.0.0+build"])"), false);
}

TEST(SemVerOp, BadInputIsNull) {
  // flagd-notes §2 and testbed @operator-errors: invalid version, unknown operator and a wrong
  // argument count return null, never false.
  EXPECT_TRUE(is_null(sv(R"(["not-a-version","=","1.0.0"])")));
  EXPECT_TRUE(is_null(sv(R"(["1.0.0","=","not-a-version"])")));
  EXPECT_TRUE(is_null(sv(R"(["1.0.0","===","1.0.0"])")));
  EXPECT_TRUE(is_null(sv(R"(["1.0.0",1,"1.0.0"])")));
  EXPECT_TRUE(is_null(sv(R"(["1.0.0","="])")));
  EXPECT_TRUE(is_null(sv(R"(["1.0.0","=","1.0.0","extra"])")));
  EXPECT_TRUE(is_null(sv("[]")));
  EXPECT_TRUE(is_null(sv(R"("1.0.0")")));
  EXPECT_TRUE(is_null(sv(R"([null,"=","1.0.0"])")));
  EXPECT_TRUE(is_null(sv(R"([true,"=","1.0.0"])")));
  EXPECT_TRUE(is_null(sv(R"([{"v":1},"=","1.0.0"])")));
  EXPECT_TRUE(is_null(sv(R"([["1.0.0"],"=","1.0.0"])")));
}

TEST(SemVerRule, InsideJsonLogic) {
  // semver-operation-spec.md example: {"sem_ver":[{"var":"version"},">=","1.0.0"]}.
  constexpr const char* rule = R"({"sem_ver":[{"var":"version"},">=","1.0.0"]})";
  EXPECT_TRUE(evals_to(rule, R"({"version":"2.0.0"})", "true"));
  EXPECT_TRUE(evals_to(rule, R"({"version":"0.9.9"})", "false"));
  EXPECT_TRUE(evals_to(rule, R"({"version":"bogus"})", "null"));
  EXPECT_TRUE(evals_to(rule, "{}", "null"));
  EXPECT_TRUE(evals_to(R"({"sem_ver":[{"var":"version"},"="]})", R"({"version":"1.0.0"})", "null"));
}

TEST(SemVerResolve, TestbedFlags) {
  // testbed evaluator/gherkin/semver.feature, flags as in its testkit (nested if chains).
  auto engine = make_engine(R"({"flags":{
    "equal-greater-lesser-version-flag":{"state":"ENABLED",
      "variants":{"equal":"equal","greater":"greater","lesser":"lesser","none":"none"},
      "defaultVariant":"none",
      "targeting":{"if":[{"sem_ver":[{"var":"version"},"=","2.0.0"]},"equal",
        {"if":[{"sem_ver":[{"var":"version"},">","2.0.0"]},"greater",
          {"if":[{"sem_ver":[{"var":"version"},"<","2.0.0"]},"lesser","none"]}]}]}},
    "major-minor-version-flag":{"state":"ENABLED",
      "variants":{"minor":"minor","major":"major","none":"none"},"defaultVariant":"none",
      "targeting":{"if":[{"sem_ver":[{"var":"version"},"~","3.0.0"]},"minor",
        {"if":[{"sem_ver":[{"var":"version"},"^","3.0.0"]},"major","none"]}]}},
    "semver-match-only":{"state":"ENABLED",
      "variants":{"match":"match","fallback":"fallback"},"defaultVariant":"fallback",
      "targeting":{"if":[{"sem_ver":[{"var":"version"},"=","1.0.0"]},"match"]}}}})");
  ASSERT_NE(engine, nullptr);
  auto at = [&](const char* key, const char* version) {
    return engine->resolve(key, Json{{"version", version}}, 0);
  };
  const auto eq = "equal-greater-lesser-version-flag";
  EXPECT_TRUE(resolved(at(eq, "2.0.0"), Reason::kTargetingMatch, "equal", R"("equal")"));
  EXPECT_TRUE(resolved(at(eq, "2.1.0"), Reason::kTargetingMatch, "greater", R"("greater")"));
  EXPECT_TRUE(resolved(at(eq, "1.9.0"), Reason::kTargetingMatch, "lesser", R"("lesser")"));
  EXPECT_TRUE(resolved(at(eq, "2.0.0-alpha"), Reason::kTargetingMatch, "lesser", R"("lesser")"));
  EXPECT_TRUE(resolved(at(eq, "2.0.0.0"), Reason::kTargetingMatch, "none", R"("none")"));
  const auto mm = "major-minor-version-flag";
  EXPECT_TRUE(resolved(at(mm, "3.0.1"), Reason::kTargetingMatch, "minor", R"("minor")"));
  EXPECT_TRUE(resolved(at(mm, "3.1.0"), Reason::kTargetingMatch, "major", R"("major")"));
  EXPECT_TRUE(resolved(at(mm, "4.0.0"), Reason::kTargetingMatch, "none", R"("none")"));
  // flagd-notes §2: a null sem_ver in an `if` without else ends with the default variant.
  EXPECT_TRUE(resolved(at("semver-match-only", "not-a-version"), Reason::kDefault, "fallback",
                       R"("fallback")"));
  EXPECT_TRUE(
      resolved(at("semver-match-only", "1.0.0"), Reason::kTargetingMatch, "match", R"("match")"));
}

}  // namespace
}  // namespace ff::eval::test
