// flagd's `fractional` operator and its hash (flagd-notes §2 "fractional — current algorithm
// (v2)"), with vectors from the flagd-testbed (gherkin/targeting.feature and
// evaluator/gherkin/fractional.feature, tag @fractional-v2) and from the reference algorithm.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/eval/logic.h"
#include "common/eval/ops.h"
#include "common/eval/resolver.h"
#include "eval_test_util.h"

namespace ff::eval::test {
namespace {

// Four equal buckets, as in the testbed's fractional flags.
constexpr const char* kSuits = R"(["clubs",25],["diamonds",25],["hearts",25],["spades",25])";

std::string fractional(const std::string& bucket_by, const std::string& buckets) {
  return R"({"fractional":[)" + (bucket_by.empty() ? "" : bucket_by + ",") + buckets + "]}";
}

TEST(Murmur3, TestbedEdgeKeys) {
  // testbed gherkin/targeting.feature "Fractional operator hash edge cases": exact preimages of
  // the boundary values (also shared/design/COMPATIBILITY.md).
  EXPECT_EQ(murmur3_x86_32("ejOoVL"), 0u);
  EXPECT_EQ(murmur3_x86_32("bY9fO-"), 1u);
  EXPECT_EQ(murmur3_x86_32("SI7p-"), 2147483647u);
  EXPECT_EQ(murmur3_x86_32("6LvT0"), 2147483648u);
  EXPECT_EQ(murmur3_x86_32("ceQdGm"), 4294967295u);
}

TEST(Murmur3, PublishedVectors) {
  // The widely published MurmurHash3_x86_32 verification values (SMHasher reference code).
  EXPECT_EQ(murmur3_x86_32("", 0), 0u);
  EXPECT_EQ(murmur3_x86_32("", 1), 0x514E28B7u);
  EXPECT_EQ(murmur3_x86_32("", 0xFFFFFFFFu), 0x81F16F39u);
  EXPECT_EQ(murmur3_x86_32(std::string(4, '\0'), 0), 0x2362F9DEu);
  EXPECT_EQ(murmur3_x86_32("aaaa", 0x9747B28Cu), 0x5A97808Au);
  EXPECT_EQ(murmur3_x86_32("a", 0x9747B28Cu), 0x7FA09EA6u);
  EXPECT_EQ(murmur3_x86_32("abc", 0x9747B28Cu), 0xC84A62DDu);
  EXPECT_EQ(murmur3_x86_32("Hello, world!", 0x9747B28Cu), 0x24884CBAu);
  EXPECT_EQ(murmur3_x86_32("The quick brown fox jumps over the lazy dog", 0x9747B28Cu),
            0x2FA826CDu);
}

TEST(Murmur3, SeedZeroTails) {
  // Computed with an independent implementation of the reference algorithm (checked against the
  // published vectors above); lengths 1..4 exercise every tail branch.
  EXPECT_EQ(murmur3_x86_32("a"), 0x3C2569B2u);
  EXPECT_EQ(murmur3_x86_32("ab"), 0x9BBFD75Fu);
  EXPECT_EQ(murmur3_x86_32("abc"), 0xB3DD93FAu);
  EXPECT_EQ(murmur3_x86_32("abcd"), 0x43ED676Au);
  EXPECT_EQ(murmur3_x86_32("test"), 0xBA6BD213u);
  EXPECT_EQ(murmur3_x86_32("Hello, world!"), 0xC0363E43u);
}

TEST(Murmur3, HashesUtf8Bytes) {
  // COMPATIBILITY.md: flagd (Go) hashes the UTF-8 bytes (flagd-core hashes UTF-16 units; we
  // follow Go). Values from the reference algorithm over the UTF-8 encoding.
  EXPECT_EQ(murmur3_x86_32("\xC3\xA9"), 269551495u);                   // "é"
  EXPECT_EQ(murmur3_x86_32("\xE6\x97\xA5\xE6\x9C\xAC"), 3302619458u);  // "日本"
}

TEST(FractionalBucket, Formula) {
  // flagd-notes §2: bucket = (uint64(hash) * totalWeight) >> 32.
  EXPECT_EQ(fractional_bucket(0u, 100), 0u);
  EXPECT_EQ(fractional_bucket(1u, 100), 0u);
  EXPECT_EQ(fractional_bucket(2147483647u, 100), 49u);
  EXPECT_EQ(fractional_bucket(2147483648u, 100), 50u);
  EXPECT_EQ(fractional_bucket(4294967295u, 100), 99u);
  EXPECT_EQ(fractional_bucket(4294967295u, 1), 0u);
  EXPECT_EQ(fractional_bucket(2147483648u, 2), 1u);
  EXPECT_EQ(fractional_bucket(4294967295u, 2147483647u), 2147483646u);
  // testbed comments on the nested scenarios: jon@company.com bv(100)=36, user1 bv(100)=76.
  EXPECT_EQ(fractional_bucket(murmur3_x86_32("jon@company.com"), 100), 36u);
  EXPECT_EQ(fractional_bucket(murmur3_x86_32("user1"), 100), 76u);
}

TEST(Fractional, CatOfFlagKeyAndName) {
  // testbed "Fractional operator" @fractional-v2 (flag fractional-flag).
  const std::string rule =
      fractional(R"({"cat":[{"var":"$flagd.flagKey"},{"var":"user.name"}]})", kSuits);
  const char* const cases[][2] = {{"jack", "hearts"},
                                  {"queen", "spades"},
                                  {"ten", "clubs"},
                                  {"nine", "diamonds"},
                                  {"3", "clubs"}};
  for (const auto& c : cases) {
    const std::string ctx = std::string(R"({"user":{"name":")") + c[0] + R"("}})";
    EXPECT_TRUE(evals_to(rule, ctx, std::string("\"") + c[1] + "\"", "fractional-flag"));
  }
}

TEST(Fractional, ExplicitStringIsHashedAsGiven) {
  // flagd-notes §2 bucketBy: a string first argument is hashed. "fractional-flagjack" is the
  // string the previous test builds for jack -> hearts, whatever the flag key.
  EXPECT_TRUE(evals_to(fractional(R"("fractional-flagjack")", kSuits), "{}", R"("hearts")",
                       "some-other-flag"));
  EXPECT_TRUE(evals_to(fractional(R"("fractional-flagqueen")", kSuits), "{}", R"("spades")"));
}

TEST(Fractional, SharedSeed) {
  // testbed "Fractional operator with shared seed" @fractional-v2: the flag key does not enter.
  const std::string rule = fractional(R"({"cat":["shared-seed",{"var":"user.name"}]})", kSuits);
  const char* const cases[][2] = {
      {"seven", "hearts"}, {"eight", "diamonds"}, {"nine", "clubs"}, {"two", "spades"}};
  for (const auto& c : cases) {
    const std::string ctx = std::string(R"({"user":{"name":")") + c[0] + R"("}})";
    EXPECT_TRUE(
        evals_to(rule, ctx, std::string("\"") + c[1] + "\"", "fractional-flag-A-shared-seed"));
    EXPECT_TRUE(
        evals_to(rule, ctx, std::string("\"") + c[1] + "\"", "fractional-flag-B-shared-seed"));
  }
}

TEST(Fractional, ShorthandHashesFlagKeyPlusTargetingKey) {
  // testbed "Fractional operator shorthand" @fractional-v2; the weight of ["heads"] defaults to 1
  // (flagd-notes §2).
  constexpr const char* rule = R"({"fractional":[["heads"],["tails",1]]})";
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"jon@company.com"})", R"("heads")",
                       "fractional-flag-shorthand"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"jane@company.com"})", R"("tails")",
                       "fractional-flag-shorthand"));
}

TEST(Fractional, HashEdgeCases) {
  // testbed "Fractional operator hash edge cases" (fractional-hash-edge-flag).
  constexpr const char* rule =
      R"({"fractional":[{"var":"targetingKey"},["lower",50],["upper",50]]})";
  const char* const cases[][2] = {{"ejOoVL", "lower"},
                                  {"bY9fO-", "lower"},
                                  {"SI7p-", "lower"},
                                  {"6LvT0", "upper"},
                                  {"ceQdGm", "upper"}};
  for (const auto& c : cases) {
    const std::string ctx = std::string(R"({"targetingKey":")") + c[0] + R"("})";
    EXPECT_TRUE(evals_to(rule, ctx, std::string("\"") + c[1] + "\""));
  }
}

TEST(Fractional, UnequalWeights) {
  // fractional-operation-spec.md example weights 50/20/30, bucketed by email; expected buckets
  // from the reference algorithm (flagd-notes §2).
  constexpr const char* rule =
      R"({"fractional":[{"var":"email"},["red",50],["blue",20],["green",30]]})";
  EXPECT_TRUE(evals_to(rule, R"({"email":"alice@example.com"})", R"("green")"));
  EXPECT_TRUE(evals_to(rule, R"({"email":"bob@example.com"})", R"("red")"));
  EXPECT_TRUE(evals_to(rule, R"({"email":"carol@example.com"})", R"("blue")"));
  // Weights 1/2/7 over flagKey+targetingKey: buckets 2 -> b, 3 -> c, 0 -> a.
  constexpr const char* small = R"({"fractional":[["a",1],["b",2],["c",7]]})";
  EXPECT_TRUE(evals_to(small, R"({"targetingKey":"user-1"})", R"("b")", "my-flag"));
  EXPECT_TRUE(evals_to(small, R"({"targetingKey":"user-2"})", R"("c")", "my-flag"));
  EXPECT_TRUE(evals_to(small, R"({"targetingKey":"alice"})", R"("a")", "my-flag"));
}

TEST(Fractional, NonAsciiBucketingValueFollowsGo) {
  // COMPATIBILITY.md: follow flagd Go (UTF-8 bytes). "日本" hashes to bucket 76 of 100, "é" to 6.
  constexpr const char* rule = R"({"fractional":[{"var":"k"},["lower",50],["upper",50]]})";
  EXPECT_TRUE(evals_to(rule, R"({"k":"日本"})", R"("upper")"));
  EXPECT_TRUE(evals_to(rule, R"({"k":"é"})", R"("lower")"));
}

TEST(Fractional, SingleEntry) {
  // testbed "Fractional operator with single entry always resolves to the only variant".
  EXPECT_TRUE(evals_to(R"({"fractional":[["single",1]]})",
                       R"({"targetingKey":"some-targeting-key"})", R"("single")",
                       "fractional-single-entry-flag"));
}

TEST(Fractional, NegativeWeightClampsToZero) {
  // testbed "fractional negative bucket weight is clamped to zero": ["one",-50] counts as 0.
  constexpr const char* rule = R"({"fractional":[{"var":"targetingKey"},["one",-50],["two",100]]})";
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"any-user"})", R"("two")"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"ejOoVL"})", R"("two")"));  // hash 0
}

TEST(Fractional, ZeroTotalWeightIsNull) {
  // testbed "fractional with all-zero bucket weights"; flagd-notes §2 "A sum of 0 returns null".
  EXPECT_TRUE(evals_to(R"({"fractional":[{"var":"targetingKey"},["one",0],["two",0]]})",
                       R"({"targetingKey":"any-user"})", "null"));
  EXPECT_TRUE(evals_to(R"({"fractional":[{"var":"targetingKey"},["one",-1],["two",-5]]})",
                       R"({"targetingKey":"any-user"})", "null"));
}

TEST(Fractional, NonIntegerWeightIsNull) {
  // flagd-notes §2: "It must be an integer (a non-integer float is an error)" -> null.
  EXPECT_TRUE(evals_to(R"({"fractional":[{"var":"targetingKey"},["a",1.5],["b",1]]})",
                       R"({"targetingKey":"any-user"})", "null"));
  EXPECT_TRUE(evals_to(R"({"fractional":[{"var":"targetingKey"},["a",50],["b","50"]]})",
                       R"({"targetingKey":"any-user"})", "null"));
}

TEST(Fractional, IntegralFloatWeightCountsAsInteger) {
  // flagd-notes §2: only a non-integer float is refused; 50.0 is the integer 50.
  constexpr const char* rule =
      R"({"fractional":[{"var":"targetingKey"},["lower",50.0],["upper",50.0]]})";
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"SI7p-"})", R"("lower")"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"6LvT0"})", R"("upper")"));
}

TEST(Fractional, TotalWeightLimit) {
  // flagd-notes §2: "The sum of weights must be <= 2,147,483,647".
  EXPECT_TRUE(evals_to(R"({"fractional":[{"var":"targetingKey"},["a",2147483647],["b",1]]})",
                       R"({"targetingKey":"any-user"})", "null"));
  // At exactly the limit: hash 0xFFFFFFFF -> bucket 2147483646, the first value past a's range.
  constexpr const char* at_limit =
      R"({"fractional":[{"var":"targetingKey"},["a",2147483646],["b",1]]})";
  EXPECT_TRUE(evals_to(at_limit, R"({"targetingKey":"ceQdGm"})", R"("b")"));
  EXPECT_TRUE(evals_to(at_limit, R"({"targetingKey":"ejOoVL"})", R"("a")"));
}

TEST(Fractional, MissingOrBadTargetingKeyIsNull) {
  // flagd-notes §2 bucketBy: targetingKey missing or "" -> null; a non-string one -> null.
  constexpr const char* rule = R"({"fractional":[["a",50],["b",50]]})";
  EXPECT_TRUE(evals_to(rule, "{}", "null"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":""})", "null"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":123})", "null"));
}

TEST(Fractional, NullBucketingValueFallsBackToTargetingKey) {
  // flagd-notes §2 bucketBy: a null first argument is dropped and flagKey+targetingKey hashed;
  // testbed fractional-null-bucket-key-flag: without a targetingKey the result is null.
  constexpr const char* rule = R"({"fractional":[{"var":"missing_key"},["one",50],["two",50]]})";
  EXPECT_TRUE(evals_to(rule, "{}", "null"));
  // "fractional-flag-shorthand" + "jon@company.com" lands in bucket 14 of 100; + jane in >= 50.
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"jon@company.com"})", R"("one")",
                       "fractional-flag-shorthand"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"jane@company.com"})", R"("two")",
                       "fractional-flag-shorthand"));
}

TEST(Fractional, NestedVariantExpression) {
  // testbed "Fractional operator with nested if expression as variant name".
  constexpr const char* if_rule =
      R"({"fractional":[{"var":"targetingKey"},)"
      R"([{"if":[{"==":[{"var":"tier"},"premium"]},"premium","standard"]},50],["standard",50]]})";
  EXPECT_TRUE(
      evals_to(if_rule, R"({"targetingKey":"jon@company.com","tier":"premium"})", R"("premium")"));
  EXPECT_TRUE(
      evals_to(if_rule, R"({"targetingKey":"jon@company.com","tier":"basic"})", R"("standard")"));
  EXPECT_TRUE(evals_to(if_rule, R"({"targetingKey":"user1","tier":"premium"})", R"("standard")"));
  // testbed "... nested var expression as variant name".
  constexpr const char* var_rule =
      R"({"fractional":[{"var":"targetingKey"},[{"var":"color"},50],["blue",50]]})";
  EXPECT_TRUE(
      evals_to(var_rule, R"({"targetingKey":"jon@company.com","color":"red"})", R"("red")"));
  EXPECT_TRUE(
      evals_to(var_rule, R"({"targetingKey":"jon@company.com","color":"green"})", R"("green")"));
  EXPECT_TRUE(evals_to(var_rule, R"({"targetingKey":"user1","color":"red"})", R"("blue")"));
}

TEST(Fractional, NestedWeightExpression) {
  // testbed "Fractional operator with nested if expression as weight".
  constexpr const char* rule =
      R"({"fractional":[{"var":"targetingKey"},)"
      R"(["red",{"if":[{"==":[{"var":"tier"},"premium"]},100,0]}],["blue",10]]})";
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"jon@company.com","tier":"premium"})", R"("red")"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"jon@company.com","tier":"basic"})", R"("blue")"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"user1","tier":"premium"})", R"("red")"));
  EXPECT_TRUE(evals_to(rule, R"({"targetingKey":"user1","tier":"basic"})", R"("blue")"));
}

TEST(Fractional, BooleanVariantsAsCondition) {
  // testbed "Fractional as condition" / "... evaluates false path": variants may be booleans.
  EXPECT_TRUE(evals_to(R"({"if":[{"fractional":[[false,0],[true,100]]},"big","small"]})",
                       R"({"targetingKey":"some-targeting-key"})", R"("big")"));
  EXPECT_TRUE(evals_to(R"({"if":[{"fractional":[[false,100],[true,0]]},"big","small"]})",
                       R"({"targetingKey":"some-targeting-key"})", R"("small")"));
}

TEST(Fractional, MalformedBucketsAreNull) {
  // flagd-notes §2: custom operators return null on bad input. A bucket that is not an array.
  EXPECT_TRUE(evals_to(R"({"fractional":[{"var":"targetingKey"},["a",50],{"var":"b"}]})",
                       R"({"targetingKey":"u","b":"oops"})", "null"));
}

TEST(Fractional, MoreBadShapesAreNull) {
  // flagd-notes §2 bucketBy: a non-string, non-null first argument is kept as a bucket, which is
  // malformed -> null; no buckets at all -> total weight 0 -> null.
  EXPECT_TRUE(
      evals_to(R"({"fractional":[{"var":"n"},["a",1]]})", R"({"n":5,"targetingKey":"u"})", "null"));
  EXPECT_TRUE(evals_to(R"({"fractional":["abc"]})", "{}", "null"));
  // flagd-notes §2: the variant may be null; that selects null.
  EXPECT_TRUE(evals_to(R"({"fractional":[[null,1]]})", R"({"targetingKey":"u"})", "null"));
}

TEST(Fractional, ExplicitBucketingNeedsNoTargetingKey) {
  // flagd-notes §2 bucketBy: a string first argument is hashed, so no targetingKey is needed.
  // murmur3("fixed") maps to bucket 0 of 2 -> "a".
  EXPECT_TRUE(evals_to(R"({"fractional":["fixed",["a",1],["b",1]]})", "{}", R"("a")"));
}

TEST(Fractional, ResolvesWithTargetingMatch) {
  // flagd-notes §1: fractional results carry TARGETING_MATCH (SPLIT is never emitted); a null
  // result (no targetingKey) falls back to the default variant with reason DEFAULT.
  auto engine = make_engine(R"({"flags":{
    "fractional-flag-shorthand":{"state":"ENABLED",
      "variants":{"heads":"heads","tails":"tails","draw":"draw"},"defaultVariant":"draw",
      "targeting":{"fractional":[["heads"],["tails",1]]}}}})");
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(resolved(
      engine->resolve("fractional-flag-shorthand", j(R"({"targetingKey":"jon@company.com"})"), 0),
      Reason::kTargetingMatch, "heads", R"("heads")"));
  EXPECT_TRUE(resolved(
      engine->resolve("fractional-flag-shorthand", j(R"({"targetingKey":"jane@company.com"})"), 0),
      Reason::kTargetingMatch, "tails", R"("tails")"));
  EXPECT_TRUE(resolved(engine->resolve("fractional-flag-shorthand", Json::object(), 0),
                       Reason::kDefault, "draw", R"("draw")"));
}

TEST(Fractional, NestedVariantNotInVariantsIsGeneralError) {
  // testbed nested-var scenario: color "yellow" is not a variant -> the caller's fallback;
  // flagd-notes §1 "result not in variants -> ERROR / GENERAL".
  auto engine = make_engine(R"({"flags":{
    "fractional-nested-var-flag":{"state":"ENABLED",
      "variants":{"red":"red","green":"green","blue":"blue","fallback":"fallback"},
      "defaultVariant":"fallback",
      "targeting":{"fractional":[{"var":"targetingKey"},[{"var":"color"},50],["blue",50]]}}}})");
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(
      no_value(engine->resolve("fractional-nested-var-flag",
                               j(R"({"targetingKey":"jon@company.com","color":"yellow"})"), 0),
               Reason::kError, ErrorCode::kGeneral));
  EXPECT_TRUE(resolved(engine->resolve("fractional-nested-var-flag",
                                       j(R"({"targetingKey":"jon@company.com","color":"red"})"), 0),
                       Reason::kTargetingMatch, "red", R"("red")"));
}

}  // namespace
}  // namespace ff::eval::test
