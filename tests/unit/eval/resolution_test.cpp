// Flag resolution (ff::eval::Engine): reasons, error codes, variant naming, metadata, $ref and
// $flagd injection. Sources: flagd-notes §1 (resolution table) and §2 (injected context), the
// flagd-testbed evaluator suites (evaluation, errors, disabled, no-default-variant,
// evaluator-refs, targeting, precision, metadata) and shared/design/COMPATIBILITY.md.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/eval/resolver.h"
#include "eval_test_util.h"

namespace ff::eval::test {
namespace {

// Static flags of every value type plus their "zero" counterparts (testbed testkit-flags.json
// shapes: boolean-flag ... object-zero-flag).
constexpr const char* kStaticFlags = R"({"flags":{
  "boolean-flag":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"},
  "string-flag":{"state":"ENABLED","variants":{"greeting":"hi","parting":"bye"},
    "defaultVariant":"greeting"},
  "integer-flag":{"state":"ENABLED","variants":{"one":1,"ten":10},"defaultVariant":"ten"},
  "float-flag":{"state":"ENABLED","variants":{"tenth":0.1,"half":0.5},"defaultVariant":"half"},
  "object-flag":{"state":"ENABLED","variants":{"empty":{},
    "template":{"showImages":true,"title":"Check out these pics!","imagesPerPage":100}},
    "defaultVariant":"template"},
  "boolean-zero-flag":{"state":"ENABLED","variants":{"zero":false,"non-zero":true},
    "defaultVariant":"zero"},
  "string-zero-flag":{"state":"ENABLED","variants":{"zero":"","non-zero":"str"},
    "defaultVariant":"zero"},
  "integer-zero-flag":{"state":"ENABLED","variants":{"zero":0,"non-zero":1},
    "defaultVariant":"zero"},
  "float-zero-flag":{"state":"ENABLED","variants":{"zero":0.0,"non-zero":1.0},
    "defaultVariant":"zero"},
  "object-zero-flag":{"state":"ENABLED","variants":{"zero":{},"non-zero":{"a":1}},
    "defaultVariant":"zero"},
  "wrong-flag":{"state":"ENABLED","variants":{"one":"uno","two":"dos"},"defaultVariant":"one"},
  "large-integer-flag":{"state":"ENABLED","variants":{"v":2147483647},"defaultVariant":"v"},
  "huge-integer-flag":{"state":"ENABLED","variants":{"v":9007199254740991},"defaultVariant":"v"},
  "integral-float-flag":{"state":"ENABLED","variants":{"v":10.0},"defaultVariant":"v"}
}})";

TEST(Resolution, StaticValuesOfEveryType) {
  // testbed evaluator/gherkin/evaluation.feature "Resolve basic values"; flagd-notes §1
  // "no targeting -> defaultVariant, STATIC".
  auto e = make_engine(kStaticFlags);
  ASSERT_NE(e, nullptr);
  const Json ctx = Json::object();
  EXPECT_TRUE(resolved(e->resolve("boolean-flag", ctx, 0), Reason::kStatic, "on", "true"));
  EXPECT_TRUE(resolved(e->resolve("string-flag", ctx, 0), Reason::kStatic, "greeting", R"("hi")"));
  EXPECT_TRUE(resolved(e->resolve("integer-flag", ctx, 0), Reason::kStatic, "ten", "10"));
  EXPECT_TRUE(resolved(e->resolve("float-flag", ctx, 0), Reason::kStatic, "half", "0.5"));
  EXPECT_TRUE(
      resolved(e->resolve("object-flag", ctx, 0), Reason::kStatic, "template",
               R"({"showImages":true,"title":"Check out these pics!","imagesPerPage":100})"));
  EXPECT_EQ(e->resolve("string-flag", ctx, 0).key, "string-flag");
}

TEST(Resolution, ZeroValuesAreValues) {
  // testbed flags/zero-flags.json: false, "", 0, 0.0 and {} are real values, not "missing".
  auto e = make_engine(kStaticFlags);
  ASSERT_NE(e, nullptr);
  const Json ctx = Json::object();
  EXPECT_TRUE(resolved(e->resolve("boolean-zero-flag", ctx, 0), Reason::kStatic, "zero", "false"));
  EXPECT_TRUE(resolved(e->resolve("string-zero-flag", ctx, 0), Reason::kStatic, "zero", R"("")"));
  EXPECT_TRUE(resolved(e->resolve("integer-zero-flag", ctx, 0), Reason::kStatic, "zero", "0"));
  EXPECT_TRUE(resolved(e->resolve("float-zero-flag", ctx, 0), Reason::kStatic, "zero", "0.0"));
  EXPECT_TRUE(resolved(e->resolve("object-zero-flag", ctx, 0), Reason::kStatic, "zero", "{}"));
}

TEST(Resolution, NumericPrecisionPreserved) {
  // testbed evaluator/gherkin/precision.feature: 2^31-1 and 2^53-1 come back exactly; an
  // integral float stays a float.
  auto e = make_engine(kStaticFlags);
  ASSERT_NE(e, nullptr);
  auto big = e->resolve("large-integer-flag", Json::object(), 0);
  ASSERT_NE(big.value, nullptr);
  EXPECT_EQ(big.value->get<std::int64_t>(), 2147483647);
  auto huge = e->resolve("huge-integer-flag", Json::object(), 0);
  ASSERT_NE(huge.value, nullptr);
  EXPECT_EQ(huge.value->get<std::int64_t>(), 9007199254740991);
  auto fl = e->resolve("integral-float-flag", Json::object(), 0);
  ASSERT_NE(fl.value, nullptr);
  EXPECT_TRUE(fl.value->is_number_float());
  EXPECT_EQ(fl.reason, Reason::kStatic);
}

TEST(Resolution, FlagNotFound) {
  // testbed evaluator/gherkin/errors.feature "Flag not found"; flagd-notes §1.
  auto e = make_engine(kStaticFlags);
  ASSERT_NE(e, nullptr);
  auto r = e->resolve("missing-flag", Json::object(), 0);
  EXPECT_TRUE(no_value(r, Reason::kError, ErrorCode::kFlagNotFound));
  EXPECT_EQ(r.key, "missing-flag");
}

TEST(Resolution, TypeMismatch) {
  // testbed errors.feature "Type mismatch" and @type-mismatch: a value of another type than the
  // one requested is ERROR / TYPE_MISMATCH; booleans are not numbers.
  auto e = make_engine(kStaticFlags);
  ASSERT_NE(e, nullptr);
  const Json ctx = Json::object();
  struct Case {
    const char* key;
    ValueType type;
  };
  const Case mismatches[] = {
      {"wrong-flag", ValueType::kNumber},   {"boolean-flag", ValueType::kString},
      {"boolean-flag", ValueType::kNumber}, {"string-flag", ValueType::kBoolean},
      {"string-flag", ValueType::kNumber},  {"integer-flag", ValueType::kBoolean},
      {"integer-flag", ValueType::kString}, {"float-flag", ValueType::kBoolean},
      {"float-flag", ValueType::kString},   {"object-flag", ValueType::kString},
      {"string-flag", ValueType::kObject},  {"boolean-zero-flag", ValueType::kNumber},
  };
  for (const auto& c : mismatches) {
    EXPECT_TRUE(
        no_value(e->resolve(c.key, ctx, 0, c.type), Reason::kError, ErrorCode::kTypeMismatch))
        << c.key;
  }
  const Case matches[] = {
      {"boolean-flag", ValueType::kBoolean}, {"string-flag", ValueType::kString},
      {"integer-flag", ValueType::kNumber},  {"float-flag", ValueType::kNumber},
      {"object-flag", ValueType::kObject},
  };
  for (const auto& c : matches) {
    auto r = e->resolve(c.key, ctx, 0, c.type);
    EXPECT_EQ(r.reason, Reason::kStatic) << c.key << ": " << describe(r);
    EXPECT_EQ(r.error, ErrorCode::kNone) << c.key;
  }
  // Without a requested type (OFREP) nothing is type-checked.
  EXPECT_TRUE(resolved(e->resolve("wrong-flag", ctx, 0), Reason::kStatic, "one", R"("uno")"));
}

constexpr const char* kDisabledFlags = R"({"flags":{
  "disabled-boolean-flag":{"state":"DISABLED","variants":{"on":true,"off":false},
    "defaultVariant":"on"},
  "disabled-string-flag":{"state":"DISABLED","variants":{"a":"hi","b":"bye"},
    "defaultVariant":"a"},
  "disabled-integer-flag":{"state":"DISABLED","variants":{"one":1,"ten":10},
    "defaultVariant":"ten"},
  "disabled-float-flag":{"state":"DISABLED","variants":{"half":0.5},"defaultVariant":"half"},
  "disabled-object-flag":{"state":"DISABLED","variants":{"o":{"a":1}},"defaultVariant":"o"},
  "disabled-targeted-flag":{"state":"DISABLED","variants":{"on":true,"off":false},
    "defaultVariant":"on","targeting":{"/":[1,{"var":"zero"}]}},
  "enabled-flag":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}
}})";

TEST(Resolution, DisabledFlagsHaveNoValue) {
  // testbed evaluator/gherkin/disabled.feature; flagd-notes §1 (core >= 0.16: reason DISABLED,
  // no value, no error code); COMPATIBILITY.md "DISABLED flag".
  auto e = make_engine(kDisabledFlags);
  ASSERT_NE(e, nullptr);
  for (const char* key : {"disabled-boolean-flag", "disabled-string-flag", "disabled-integer-flag",
                          "disabled-float-flag", "disabled-object-flag"}) {
    EXPECT_TRUE(no_value(e->resolve(key, Json::object(), 0), Reason::kDisabled)) << key;
  }
  // Targeting of a disabled flag is not evaluated (it would fail here).
  EXPECT_TRUE(
      no_value(e->resolve("disabled-targeted-flag", j(R"({"zero":0})"), 0), Reason::kDisabled));
  // A requested type does not turn DISABLED into TYPE_MISMATCH.
  EXPECT_TRUE(no_value(e->resolve("disabled-string-flag", Json::object(), 0, ValueType::kNumber),
                       Reason::kDisabled));
}

TEST(Resolution, ResolveAllIncludesDisabledInKeyOrder) {
  // resolver.h contract and the preamble: bulk output lists DISABLED flags with reason DISABLED,
  // in key order.
  auto e = make_engine(kDisabledFlags);
  ASSERT_NE(e, nullptr);
  std::vector<Resolution> all;
  e->resolve_all(Json::object(), 0, all);
  ASSERT_EQ(all.size(), 7u);
  ASSERT_EQ(e->size(), 7u);
  for (std::size_t i = 0; i + 1 < all.size(); ++i) EXPECT_LT(all[i].key, all[i + 1].key);
  int disabled = 0;
  for (const auto& r : all) {
    if (r.key == "enabled-flag") {
      EXPECT_TRUE(resolved(r, Reason::kStatic, "off", "false"));
    } else {
      EXPECT_TRUE(no_value(r, Reason::kDisabled)) << r.key;
      ++disabled;
    }
  }
  EXPECT_EQ(disabled, 6);
}

constexpr const char* kNoDefaultFlags = R"({"flags":{
  "null-default-flag":{"state":"ENABLED","variants":{"on":true,"off":false},
    "defaultVariant":null},
  "undefined-default-flag":{"state":"ENABLED","variants":{"small":10,"big":1000}},
  "no-default-flag-null-targeting-variant":{"state":"ENABLED",
    "variants":{"normal":"CFO","special":"CEO"},
    "targeting":{"if":[{"==":["jobs@orange.com",{"var":["email"]}]},"special",null]}},
  "no-default-flag-undefined-targeting-variant":{"state":"ENABLED",
    "variants":{"normal":"CFO","special":"CEO"},
    "targeting":{"if":[{"==":["jobs@orange.com",{"var":["email"]}]},"special"]}}
}})";

TEST(Resolution, NoDefaultVariant) {
  // testbed evaluator/gherkin/no-default-variant.feature; flagd-notes §1: no targeting and no
  // defaultVariant -> DEFAULT without value; COMPATIBILITY.md: same for a null targeting result.
  auto e = make_engine(kNoDefaultFlags);
  ASSERT_NE(e, nullptr);
  const Json woz = j(R"({"email":"wozniak@orange.com"})");
  const Json jobs = j(R"({"email":"jobs@orange.com"})");
  EXPECT_TRUE(no_value(e->resolve("null-default-flag", Json::object(), 0), Reason::kDefault));
  EXPECT_TRUE(no_value(e->resolve("undefined-default-flag", Json::object(), 0), Reason::kDefault));
  EXPECT_TRUE(
      no_value(e->resolve("no-default-flag-null-targeting-variant", woz, 0), Reason::kDefault));
  EXPECT_TRUE(resolved(e->resolve("no-default-flag-null-targeting-variant", jobs, 0),
                       Reason::kTargetingMatch, "special", R"("CEO")"));
  EXPECT_TRUE(no_value(e->resolve("no-default-flag-undefined-targeting-variant", woz, 0),
                       Reason::kDefault));
  // No value means nothing to type-check.
  EXPECT_TRUE(no_value(e->resolve("null-default-flag", Json::object(), 0, ValueType::kNumber),
                       Reason::kDefault));
}

constexpr const char* kEdgeFlags = R"({"flags":{
  "targeting-null-variant-flag":{"state":"ENABLED","variants":{"one":1,"two":2},
    "defaultVariant":"two","targeting":{"if":[true,null,"one"]}},
  "error-targeting-flag":{"state":"ENABLED","variants":{"one":1,"two":2},
    "defaultVariant":"two","targeting":{"invalid":["this is not valid targeting"]}},
  "missing-variant-targeting-flag":{"state":"ENABLED","variants":{"one":1,"two":2},
    "defaultVariant":"two","targeting":{"if":[true,"three","one"]}},
  "non-string-variant-targeting-flag":{"state":"ENABLED","variants":{"false":1,"true":2},
    "defaultVariant":"false","targeting":{"if":[true,true,false]}},
  "false-variant-targeting-flag":{"state":"ENABLED","variants":{"false":1,"true":2},
    "defaultVariant":"true","targeting":{"!":[true]}},
  "empty-targeting-flag":{"state":"ENABLED","variants":{"false":1,"true":2},
    "defaultVariant":"false","targeting":{}},
  "targeting-key-flag":{"state":"ENABLED","variants":{"miss":"miss","hit":"hit"},
    "defaultVariant":"miss","targeting":{"if":[{"==":[{"var":"targetingKey"},
      "5c3d8535-f81a-4478-a6d3-afaa4d51199e"]},"hit",null]}},
  "numeric-variant-flag":{"state":"ENABLED","variants":{"1":"one","2":"two","1.5":"one and a half"},
    "defaultVariant":"2","targeting":{"if":[{"var":"half"},{"/":[3,2]},{"var":"pick"}]}},
  "computed-integer-flag":{"state":"ENABLED","variants":{"1":"one","2":"two"},
    "defaultVariant":"2","targeting":{"*":[2,0.5]}},
  "runtime-error-flag":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"b",
    "targeting":{"if":[{"some":[{"var":"xs"},{"==":[{"var":""},-1]}]},"b","a"]}},
  "division-error-flag":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"b",
    "targeting":{"if":[{"/":[1,{"var":"zero"}]},"a","b"]}},
  "timestamp-flag":{"state":"ENABLED","variants":{"past":-1,"future":1,"unknown":0},
    "defaultVariant":"unknown","targeting":{"if":[{">":[{"var":"$flagd.timestamp"},
      {"var":"time"}]},"past","future"]}}
}})";

TEST(Resolution, TestbedErrorsAndEdgeCases) {
  // testbed gherkin/targeting.feature "Errors and edge cases" (flags/edge-case-flags.json).
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  const Json ctx = Json::object();
  // null result -> defaultVariant, DEFAULT (flagd-notes §1).
  EXPECT_TRUE(
      resolved(e->resolve("targeting-null-variant-flag", ctx, 0), Reason::kDefault, "two", "2"));
  // Unknown operator -> PARSE_ERROR (targeting could not be compiled).
  EXPECT_TRUE(
      no_value(e->resolve("error-targeting-flag", ctx, 0), Reason::kError, ErrorCode::kParseError));
  // Result names no variant -> GENERAL.
  EXPECT_TRUE(no_value(e->resolve("missing-variant-targeting-flag", ctx, 0), Reason::kError,
                       ErrorCode::kGeneral));
  // true names the variant "true" (flagd-notes §1: stringified result).
  EXPECT_TRUE(resolved(e->resolve("non-string-variant-targeting-flag", ctx, 0),
                       Reason::kTargetingMatch, "true", "2"));
  EXPECT_TRUE(resolved(e->resolve("false-variant-targeting-flag", ctx, 0), Reason::kTargetingMatch,
                       "false", "1"));
  // {} is "no targeting" -> STATIC.
  EXPECT_TRUE(resolved(e->resolve("empty-targeting-flag", ctx, 0), Reason::kStatic, "false", "1"));
}

TEST(Resolution, CompileErrorsAreListed) {
  // resolver.h contract: compile_errors() names every flag whose targeting failed to compile.
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  bool found = false;
  for (const auto& msg : e->compile_errors()) {
    if (msg.rfind("error-targeting-flag", 0) == 0) found = true;
    EXPECT_EQ(msg.find("targeting-key-flag"), std::string::npos) << msg;
  }
  EXPECT_TRUE(found);
}

TEST(Resolution, TargetingKeyHitAndMiss) {
  // testbed evaluator/gherkin/targeting.feature "Targeting by targeting key".
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(
      resolved(e->resolve("targeting-key-flag",
                          j(R"({"targetingKey":"5c3d8535-f81a-4478-a6d3-afaa4d51199e"})"), 0),
               Reason::kTargetingMatch, "hit", R"("hit")"));
  EXPECT_TRUE(
      resolved(e->resolve("targeting-key-flag",
                          j(R"({"targetingKey":"f20bd32d-703b-48b6-bc8e-79d53c85134a"})"), 0),
               Reason::kDefault, "miss", R"("miss")"));
}

TEST(Resolution, NumericResultsNameVariants) {
  // flagd-notes §1: results are stringified (1 -> "1"); json.h variant_name: numbers as
  // JavaScript prints them, so 3/2 -> "1.5" and 2*0.5 -> "1".
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(resolved(e->resolve("numeric-variant-flag", j(R"({"pick":1})"), 0),
                       Reason::kTargetingMatch, "1", R"("one")"));
  EXPECT_TRUE(resolved(e->resolve("numeric-variant-flag", j(R"({"pick":2})"), 0),
                       Reason::kTargetingMatch, "2", R"("two")"));
  EXPECT_TRUE(resolved(e->resolve("numeric-variant-flag", j(R"({"half":true})"), 0),
                       Reason::kTargetingMatch, "1.5", R"("one and a half")"));
  EXPECT_TRUE(no_value(e->resolve("numeric-variant-flag", j(R"({"pick":3})"), 0), Reason::kError,
                       ErrorCode::kGeneral));
  EXPECT_TRUE(resolved(e->resolve("computed-integer-flag", Json::object(), 0),
                       Reason::kTargetingMatch, "1", R"("one")"));
}

TEST(Resolution, RuntimeErrorsAreParseErrors) {
  // logic.h contract (exceeding the work budget and dividing by zero are runtime errors) and
  // COMPATIBILITY.md (flagd Go reports PARSE_ERROR; flagd-core says GENERAL).
  auto set = flags::load(std::string_view(kEdgeFlags));
  ASSERT_TRUE(set.ok()) << set.error().to_string();
  EvalLimits tight;
  tight.max_steps = 1'000;
  Engine e(std::move(*set), tight);
  Json big = Json::object();
  big["xs"] = Json::array();
  for (int i = 0; i < 10'000; ++i) big["xs"].push_back(i);
  EXPECT_TRUE(
      no_value(e.resolve("runtime-error-flag", big, 0), Reason::kError, ErrorCode::kParseError));
  EXPECT_TRUE(no_value(e.resolve("division-error-flag", j(R"({"zero":0})"), 0), Reason::kError,
                       ErrorCode::kParseError));
  // The same flags resolve normally when the context does not trigger the failure.
  EXPECT_TRUE(resolved(e.resolve("runtime-error-flag", j(R"({"xs":[1,2,3]})"), 0),
                       Reason::kTargetingMatch, "a", R"("a")"));
  EXPECT_TRUE(resolved(e.resolve("division-error-flag", j(R"({"zero":2})"), 0),
                       Reason::kTargetingMatch, "a", R"("a")"));
}

TEST(Resolution, TimestampComesFromNow) {
  // testbed gherkin/targeting.feature "Time-based operations": time 1 is past, 4133980802
  // future; flagd-notes §2: $flagd.timestamp is Unix seconds (here the `now` argument).
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  const std::int64_t now = 1'767'225'600;  // 2026-01-01T00:00:00Z
  EXPECT_TRUE(resolved(e->resolve("timestamp-flag", j(R"({"time":1})"), now),
                       Reason::kTargetingMatch, "past", "-1"));
  EXPECT_TRUE(resolved(e->resolve("timestamp-flag", j(R"({"time":4133980802})"), now),
                       Reason::kTargetingMatch, "future", "1"));
  EXPECT_TRUE(resolved(e->resolve("timestamp-flag", j(R"({"time":1767225599})"), now),
                       Reason::kTargetingMatch, "past", "-1"));
  EXPECT_TRUE(resolved(e->resolve("timestamp-flag", j(R"({"time":1767225600})"), now),
                       Reason::kTargetingMatch, "future", "1"));
}

constexpr const char* kInjectedFlags = R"({"flags":{
  "enrichedFlag":{"state":"ENABLED","variants":{"yes":"flagd-works","no":"flagd-missing"},
    "defaultVariant":"no","targeting":{"if":[{"and":[
      {"==":[{"var":"$flagd.flagKey"},"enrichedFlag"]},
      {"==":[{"var":"$flagd.timestamp"},1700000000]}]},"yes","no"]}},
  "extra-flag":{"state":"ENABLED","variants":{"yes":"y","no":"n"},"defaultVariant":"no",
    "targeting":{"if":[{"var":"$flagd.extra"},"yes","no"]}}
}})";

TEST(Resolution, FlagdPropertiesInjected) {
  // flagd-notes §2 "Injected context": $flagd.flagKey and $flagd.timestamp.
  auto e = make_engine(kInjectedFlags);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(resolved(e->resolve("enrichedFlag", Json::object(), 1'700'000'000),
                       Reason::kTargetingMatch, "yes", R"("flagd-works")"));
  EXPECT_TRUE(resolved(e->resolve("enrichedFlag", Json::object(), 1'700'000'001),
                       Reason::kTargetingMatch, "no", R"("flagd-missing")"));
}

TEST(Resolution, FlagdPropertiesOverrideCaller) {
  // flagd-notes §2: the injected $flagd overwrites any caller $flagd (flagd Go replaces the
  // whole object, so caller keys under $flagd disappear).
  auto e = make_engine(kInjectedFlags);
  ASSERT_NE(e, nullptr);
  const Json spoof = j(R"({"$flagd":{"flagKey":"someOtherFlag","timestamp":1,"extra":true}})");
  EXPECT_TRUE(resolved(e->resolve("enrichedFlag", spoof, 1'700'000'000), Reason::kTargetingMatch,
                       "yes", R"("flagd-works")"));
  EXPECT_TRUE(
      resolved(e->resolve("extra-flag", spoof, 0), Reason::kTargetingMatch, "no", R"("n")"));
}

constexpr const char* kRefFlags = R"({"flags":{
  "some-email-targeted-flag":{"state":"ENABLED","variants":{"hi":"hi","bye":"bye","none":"none"},
    "defaultVariant":"none","targeting":{"if":[{"$ref":"is_ballmer"},"hi","bye"]}},
  "some-other-email-targeted-flag":{"state":"ENABLED",
    "variants":{"yes":"yes","no":"no","none":"none"},"defaultVariant":"none",
    "targeting":{"if":[{"$ref":"is_ballmer"},"yes","no"]}},
  "ref-whitespace-compact-flag":{"state":"ENABLED",
    "variants":{"hi":"hi","bye":"bye","fallback":"fallback"},"defaultVariant":"fallback",
    "targeting":{"if":[{"$ref":"is_ballmer"},"hi","bye"]}},
  "ref-whitespace-space-around-colon-flag":{"state":"ENABLED",
    "variants":{"hi":"hi","bye":"bye","fallback":"fallback"},"defaultVariant":"fallback",
    "targeting":{"if":[{ "$ref" : "is_ballmer" },"hi","bye"]}},
  "nested-ref-targeted-flag":{"state":"ENABLED",
    "variants":{"privileged":"privileged","standard":"standard","none":"none"},
    "defaultVariant":"none","targeting":{"if":[{"$ref":"is_privileged"},"privileged","standard"]}},
  "targeted-zero-flag":{"state":"ENABLED","variants":{"zero":0,"non-zero":1},
    "defaultVariant":"zero","targeting":{"if":[{"$ref":"is_ballmer"},"zero"]}},
  "ref-to-nonexistent-evaluator-flag":{"state":"ENABLED",
    "variants":{"hit":"hit","miss":"miss","fallback":"fallback"},"defaultVariant":"fallback",
    "targeting":{"if":[{"$ref":"nonexistent_evaluator"},"hit","miss"]}},
  "self-cycle-flag":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"b",
    "targeting":{"if":[{"$ref":"loop"},"a","b"]}},
  "mutual-cycle-flag":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"b",
    "targeting":{"if":[{"$ref":"ping"},"a","b"]}}
},
"$evaluators":{
  "is_ballmer":{"==":["ballmer@macrosoft.com",{"var":["email"]}]},
  "is_privileged":{"or":[{"$ref":"is_ballmer"},{"==":["admin",{"var":["role"]}]}]},
  "loop":{"!":[{"$ref":"loop"}]},
  "ping":{"!":[{"$ref":"pong"}]},
  "pong":{"!":[{"$ref":"ping"}]}
}})";

TEST(Resolution, RefsExpand) {
  // testbed evaluator/gherkin/evaluator-refs.feature "Evaluator reuse via $ref" and
  // "... regardless of whitespace around the colon".
  auto e = make_engine(kRefFlags);
  ASSERT_NE(e, nullptr);
  const Json ballmer = j(R"({"email":"ballmer@macrosoft.com"})");
  const Json other = j(R"({"email":"user@example.com"})");
  EXPECT_TRUE(resolved(e->resolve("some-email-targeted-flag", ballmer, 0), Reason::kTargetingMatch,
                       "hi", R"("hi")"));
  EXPECT_TRUE(resolved(e->resolve("some-other-email-targeted-flag", ballmer, 0),
                       Reason::kTargetingMatch, "yes", R"("yes")"));
  for (const char* key :
       {"ref-whitespace-compact-flag", "ref-whitespace-space-around-colon-flag"}) {
    EXPECT_TRUE(resolved(e->resolve(key, ballmer, 0), Reason::kTargetingMatch, "hi", R"("hi")"))
        << key;
    EXPECT_TRUE(resolved(e->resolve(key, other, 0), Reason::kTargetingMatch, "bye", R"("bye")"))
        << key;
  }
  // testbed testkit boolean/integer-targeted-zero-flag shape: if without else.
  EXPECT_TRUE(
      resolved(e->resolve("targeted-zero-flag", ballmer, 0), Reason::kTargetingMatch, "zero", "0"));
  EXPECT_TRUE(resolved(e->resolve("targeted-zero-flag", other, 0), Reason::kDefault, "zero", "0"));
}

TEST(Resolution, NestedRefsExpand) {
  // testbed evaluator-refs.feature @evaluator-ref-edge-cases "Nested evaluator ref resolution".
  auto e = make_engine(kRefFlags);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(
      resolved(e->resolve("nested-ref-targeted-flag", j(R"({"email":"ballmer@macrosoft.com"})"), 0),
               Reason::kTargetingMatch, "privileged", R"("privileged")"));
  EXPECT_TRUE(resolved(e->resolve("nested-ref-targeted-flag", j(R"({"role":"admin"})"), 0),
                       Reason::kTargetingMatch, "privileged", R"("privileged")"));
  EXPECT_TRUE(
      resolved(e->resolve("nested-ref-targeted-flag", j(R"({"email":"other@example.com"})"), 0),
               Reason::kTargetingMatch, "standard", R"("standard")"));
}

TEST(Resolution, BadRefsFailOnlyTheirFlag) {
  // testbed "Ref to nonexistent evaluator yields parse error"; flagd-notes §1 "$ref"; model.h
  // contract: a flag whose $ref cannot be expanded (unknown or cyclic) is PARSE_ERROR while
  // every other flag keeps working.
  auto e = make_engine(kRefFlags);
  ASSERT_NE(e, nullptr);
  const Json ctx = j(R"({"email":"ballmer@macrosoft.com"})");
  for (const char* key :
       {"ref-to-nonexistent-evaluator-flag", "self-cycle-flag", "mutual-cycle-flag"}) {
    EXPECT_TRUE(no_value(e->resolve(key, ctx, 0), Reason::kError, ErrorCode::kParseError)) << key;
  }
  EXPECT_TRUE(resolved(e->resolve("some-email-targeted-flag", ctx, 0), Reason::kTargetingMatch,
                       "hi", R"("hi")"));
  std::vector<Resolution> all;
  e->resolve_all(ctx, 0, all);
  EXPECT_EQ(all.size(), e->size());
}

constexpr const char* kMetadataFlags = R"({
  "metadata":{"flagSetId":"set-1","version":"7","string":"b","flag-set-integer":3,
    "flag-set-float":3.2,"flag-set-boolean":false},
  "flags":{
    "combined-metadata-flag":{"state":"ENABLED","variants":{"on":true,"off":false},
      "defaultVariant":"on",
      "metadata":{"string":"a","integer":1,"float":1.2,"boolean":true}},
    "only-set-metadata-flag":{"state":"ENABLED","variants":{"on":true,"off":false},
      "defaultVariant":"on"},
    "error-metadata-flag":{"state":"ENABLED","variants":{"on":true,"off":false},
      "defaultVariant":"on","metadata":{"string":"e"},"targeting":{"if":[true,"nope"]}},
    "disabled-metadata-flag":{"state":"DISABLED","variants":{"on":true,"off":false},
      "defaultVariant":"on","metadata":{"string":"d"}}
  }})";

TEST(Resolution, MetadataMergeFlagKeysWin) {
  // testbed gherkin/metadata.feature "Flag metadata overwrites flag set metadata" and "Returns
  // flag set metadata"; flagd-notes §1 "flag-level keys win".
  auto e = make_engine(kMetadataFlags);
  ASSERT_NE(e, nullptr);
  auto combined = e->resolve("combined-metadata-flag", Json::object(), 0);
  ASSERT_NE(combined.metadata, nullptr);
  EXPECT_EQ(*combined.metadata, j(R"({"flagSetId":"set-1","version":"7","string":"a",
    "integer":1,"float":1.2,"boolean":true,"flag-set-integer":3,"flag-set-float":3.2,
    "flag-set-boolean":false})"));
  auto only_set = e->resolve("only-set-metadata-flag", Json::object(), 0);
  ASSERT_NE(only_set.metadata, nullptr);
  EXPECT_EQ(*only_set.metadata, j(R"({"flagSetId":"set-1","version":"7","string":"b",
    "flag-set-integer":3,"flag-set-float":3.2,"flag-set-boolean":false})"));
}

TEST(Resolution, MetadataOnErrorsAndDisabled) {
  // flagd-notes §1: "Metadata is returned even on errors, best effort"; resolver.h: set metadata
  // when the flag is not found.
  auto e = make_engine(kMetadataFlags);
  ASSERT_NE(e, nullptr);
  auto err = e->resolve("error-metadata-flag", Json::object(), 0);
  EXPECT_TRUE(no_value(err, Reason::kError, ErrorCode::kGeneral));
  ASSERT_NE(err.metadata, nullptr);
  EXPECT_EQ(err.metadata->value("string", ""), "e");
  EXPECT_EQ(err.metadata->value("flagSetId", ""), "set-1");
  auto disabled = e->resolve("disabled-metadata-flag", Json::object(), 0);
  EXPECT_TRUE(no_value(disabled, Reason::kDisabled));
  ASSERT_NE(disabled.metadata, nullptr);
  EXPECT_EQ(disabled.metadata->value("string", ""), "d");
  auto missing = e->resolve("no-such-flag", Json::object(), 0);
  EXPECT_TRUE(no_value(missing, Reason::kError, ErrorCode::kFlagNotFound));
  ASSERT_NE(missing.metadata, nullptr);
  EXPECT_EQ(missing.metadata->value("flagSetId", ""), "set-1");
}

TEST(Resolution, NoMetadataIsEmpty) {
  // testbed gherkin/metadata.feature "Returns no metadata".
  auto e = make_engine(kStaticFlags);
  ASSERT_NE(e, nullptr);
  auto r = e->resolve("boolean-flag", Json::object(), 0);
  ASSERT_NE(r.metadata, nullptr);
  EXPECT_TRUE(r.metadata->empty());
}

TEST(Resolution, NonObjectContextActsAsEmpty) {
  // logic.h contract: a context that is not an object behaves as an empty object.
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  for (const Json& ctx : {Json::array({1, 2}), Json("str"), Json(nullptr), Json(5)}) {
    EXPECT_TRUE(
        resolved(e->resolve("targeting-key-flag", ctx, 0), Reason::kDefault, "miss", R"("miss")"))
        << ctx.dump();
  }
}

TEST(Resolution, LargeAndFractionalNumbersNameVariants) {
  // flagd-notes §1 (stringified result) with JavaScript number printing (json.h): 1e21 prints
  // as "1e+21" and 1/3 as "0.3333333333333333" (flagd Go's encoding/json agrees).
  auto e = make_engine(R"({"flags":{
    "big":{"state":"ENABLED","variants":{"1e+21":"big","0":"zero"},"defaultVariant":"0",
      "targeting":{"*":[1e20,10]}},
    "third":{"state":"ENABLED","variants":{"0.3333333333333333":"third","0":"zero"},
      "defaultVariant":"0","targeting":{"/":[1,3]}}}})");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(
      resolved(e->resolve("big", Json::object(), 0), Reason::kTargetingMatch, "1e+21", R"("big")"));
  EXPECT_TRUE(resolved(e->resolve("third", Json::object(), 0), Reason::kTargetingMatch,
                       "0.3333333333333333", R"("third")"));
}

TEST(Resolution, StringNullIsAVariantName) {
  // flagd json.go evaluateVariant checks for JSON null before stripping quotes, "so we can
  // differentiate between JSON null and "null"": the string "null" names a variant.
  auto e = make_engine(R"({"flags":{
    "f":{"state":"ENABLED","variants":{"null":"x","other":"y"},"defaultVariant":"other",
      "targeting":{"if":[{"var":"s"},"null",null]}},
    "arr":{"state":"ENABLED","variants":{"a":"x"},"defaultVariant":"a",
      "targeting":{"merge":[["a"],["b"]]}}}})");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(
      resolved(e->resolve("f", j(R"({"s":true})"), 0), Reason::kTargetingMatch, "null", R"("x")"));
  EXPECT_TRUE(resolved(e->resolve("f", Json::object(), 0), Reason::kDefault, "other", R"("y")"));
  // An array result names no variant (flagd-notes §1: ERROR / GENERAL).
  EXPECT_TRUE(no_value(e->resolve("arr", Json::object(), 0), Reason::kError, ErrorCode::kGeneral));
}

TEST(Resolution, TypeCheckAppliesToTargetedValues) {
  // testbed errors.feature: TYPE_MISMATCH also when the variant was chosen by targeting.
  auto e = make_engine(kEdgeFlags);
  ASSERT_NE(e, nullptr);
  const Json hit = j(R"({"targetingKey":"5c3d8535-f81a-4478-a6d3-afaa4d51199e"})");
  EXPECT_TRUE(no_value(e->resolve("targeting-key-flag", hit, 0, ValueType::kBoolean),
                       Reason::kError, ErrorCode::kTypeMismatch));
  EXPECT_TRUE(resolved(e->resolve("targeting-key-flag", hit, 0, ValueType::kString),
                       Reason::kTargetingMatch, "hit", R"("hit")"));
}

TEST(Resolution, EmptyFlagSet) {
  auto e = make_engine(R"({"flags":{}})");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size(), 0u);
  EXPECT_TRUE(
      no_value(e->resolve("any", Json::object(), 0), Reason::kError, ErrorCode::kFlagNotFound));
  std::vector<Resolution> all;
  e->resolve_all(Json::object(), 0, all);
  EXPECT_TRUE(all.empty());
}

TEST(Resolution, DisabledWithoutDefaultVariant) {
  // flagd-notes §1: DISABLED wins over every other row.
  auto e = make_engine(R"({"flags":{"f":{"state":"DISABLED","variants":{"a":1}}}})");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(no_value(e->resolve("f", Json::object(), 0), Reason::kDisabled));
}

TEST(Resolution, ReasonAndErrorNames) {
  // flagd-notes §1 "Reasons emitted" and "Error codes".
  EXPECT_STREQ(to_string(Reason::kStatic), "STATIC");
  EXPECT_STREQ(to_string(Reason::kTargetingMatch), "TARGETING_MATCH");
  EXPECT_STREQ(to_string(Reason::kDefault), "DEFAULT");
  EXPECT_STREQ(to_string(Reason::kDisabled), "DISABLED");
  EXPECT_STREQ(to_string(Reason::kError), "ERROR");
  EXPECT_STREQ(to_string(ErrorCode::kFlagNotFound), "FLAG_NOT_FOUND");
  EXPECT_STREQ(to_string(ErrorCode::kParseError), "PARSE_ERROR");
  EXPECT_STREQ(to_string(ErrorCode::kTypeMismatch), "TYPE_MISMATCH");
  EXPECT_STREQ(to_string(ErrorCode::kGeneral), "GENERAL");
}

}  // namespace
}  // namespace ff::eval::test
