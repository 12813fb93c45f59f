// Strict validation (common/flags/validate.h) against the flagd-schemas fixtures and against
// each rule of flags.json / flagd.json / targeting.json and the flagd load checks.
#include "common/flags/validate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ff::flags {
namespace {

namespace fs = std::filesystem;

const fs::path kSchemas = fs::path(FF_SHARED_DIR) / "reference" / "flagd-schemas";
const std::string kT = "/flags/f/targeting";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> json_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const std::vector<Violation>& vs) {
  std::string out;
  for (const auto& v : vs) out += "\n  " + v.path + ": " + v.reason;
  return out.empty() ? " (none)" : out;
}

std::multiset<std::string> paths(const std::vector<Violation>& vs) {
  std::multiset<std::string> out;
  for (const auto& v : vs) out.insert(v.path);
  return out;
}

// Every violation names a rule, so no reason may be empty.
void expect_reasons(const std::vector<Violation>& vs) {
  for (const auto& v : vs) EXPECT_FALSE(v.reason.empty()) << "at " << v.path;
}

// Asserts that validation yields violations at exactly `expected` (a multiset of paths).
void expect_paths(const std::vector<Violation>& vs, std::multiset<std::string> expected,
                  const std::string& what) {
  EXPECT_EQ(paths(vs), expected) << what << describe(vs);
  expect_reasons(vs);
}

// A flag file whose only flag "f" has `targeting`, with evaluators "ev" and "some-ref" (the
// name the positive fixture if-shorthand.json refers to).
Json with_targeting(const Json& targeting) {
  return Json{{"flags",
               {{"f",
                 {{"state", "ENABLED"},
                  {"variants", {{"on", true}, {"off", false}}},
                  {"defaultVariant", "on"},
                  {"targeting", targeting}}}}},
              {"$evaluators", {{"ev", {{"==", {1, 1}}}}, {"some-ref", {{"==", {1, 1}}}}}}};
}

// The same rule as an $evaluators entry "rule" of an otherwise valid file.
Json as_evaluator(const Json& rule) {
  return Json{{"flags", {{"f", {{"state", "ENABLED"}, {"variants", {{"on", true}}}}}}},
              {"$evaluators", {{"rule", rule}, {"some-ref", {{"==", {1, 1}}}}}}};
}

std::vector<Violation> targeting(const std::string& rule_json) {
  return validate(with_targeting(Json::parse(rule_json)));
}

// --- flagd-schemas fixtures -----------------------------------------------------------------

TEST(ValidateFixtures, PositiveFlagFilesHaveNoViolations) {
  std::size_t n = 0;
  for (const char* dir : {"test/flags/positive", "test/flagd/positive"}) {
    for (const auto& file : json_files(kSchemas / dir)) {
      ++n;
      EXPECT_TRUE(validate_text(read_file(file)).empty())
          << file << describe(validate_text(read_file(file)));
    }
  }
  EXPECT_EQ(n, 11u) << "fixture set changed; review the expectations";
}

TEST(ValidateFixtures, PositiveTargetingRulesHaveNoViolations) {
  std::size_t n = 0;
  for (const auto& file : json_files(kSchemas / "test/targeting/positive")) {
    ++n;
    const Json rule = Json::parse(read_file(file));
    EXPECT_TRUE(validate(with_targeting(rule)).empty())
        << file << describe(validate(with_targeting(rule)));
    EXPECT_TRUE(validate(as_evaluator(rule)).empty())
        << file << describe(validate(as_evaluator(rule)));
  }
  EXPECT_EQ(n, 7u) << "fixture set changed; review the expectations";
}

TEST(ValidateFixtures, NegativeFlagFilesPointAtTheDefect) {
  const std::map<std::string, std::multiset<std::string>> expected = {
      // minProperties, and flagd's "defaultVariant must name a variant".
      {"empty-variants.json", {"/flags/myBoolFlag/variants", "/flags/myBoolFlag/defaultVariant"}},
      // "not-a-flag": {} lacks both required members.
      {"malformed-flag.json", {"/flags/not-a-flag", "/flags/not-a-flag"}},
      {"missing-variants.json", {"/flags/myBoolFlag"}},
      // A tie (one boolean, one string) resolved by the default variant "on" (boolean).
      {"mixed-variant-types.ffconfig.json", {"/flags/myBoolFlag/variants/off"}},
      {"state-set-incorrectly.json", {"/flags/myBoolFlag/state"}},
      // $schema names flags.json, whose providerConfig has no array form.
      {"with-array-flags.json", {"/flags"}},
      {"with-invalid-flag-metadata.json", {"/flags/myBoolFlag/metadata/invalid"}},
      {"with-invalid-flag-set-metadata.json", {"/metadata/invalid"}},
      {"with-invalid-targeting.json", {"/flags/targetedFlag/targeting/not-a-real-rule"}},
  };
  std::size_t n = 0;
  for (const auto& file : json_files(kSchemas / "test/flags/negative")) {
    ++n;
    const auto it = expected.find(file.filename().string());
    ASSERT_NE(it, expected.end()) << "no expectation for " << file;
    expect_paths(validate_text(read_file(file)), it->second, file.string());
  }
  EXPECT_EQ(n, expected.size());
}

TEST(ValidateFixtures, NegativeTargetingRulesPointAtTheDefect) {
  const std::map<std::string, std::string> expected = {
      {"fractional-decimal-weighting.json", "/fractional/1/1"},
      {"fractional-invalid-bucketing.json", "/fractional/0"},
      {"fractional-invalid-weighting.json", "/fractional/1/1"},
      {"fractional-negative-weighting.json", "/fractional/1/1"},
      {"invalid-ends-with-param.json", "/if/0/ends_with/1"},
      {"invalid-flagd-props.json", "/if/0/==/0/var"},
      {"invalid-starts-with-param.json", "/if/0/starts_with/1"},
      {"sem-ver-invalid-range-specifier.json", "/if/0/sem_ver/1"},
      {"sem-ver-invalid-ver-expression.json", "/if/0/sem_ver/2"},
  };
  std::size_t n = 0;
  for (const auto& file : json_files(kSchemas / "test/targeting/negative")) {
    ++n;
    const auto it = expected.find(file.filename().string());
    ASSERT_NE(it, expected.end()) << "no expectation for " << file;
    const Json rule = Json::parse(read_file(file));
    expect_paths(validate(with_targeting(rule)), {kT + it->second}, file.string());
    expect_paths(validate(as_evaluator(rule)), {"/$evaluators/rule" + it->second}, file.string());
  }
  EXPECT_EQ(n, expected.size());
}

TEST(ValidateFixtures, MinimalExampleIsValid) {
  EXPECT_TRUE(validate_text(read_file(kSchemas / "examples/minimal.json")).empty());
}

// examples/full.json deliberately holds rules that fail at run time ("fail" variants): an
// ends_with affix 3 and the version "2.0.0.0". targeting.json rejects both, exactly as it
// rejects the negative fixtures invalid-ends-with-param.json and
// sem-ver-invalid-ver-expression.json (flagd-core's compiled schema validator agrees), so the
// example cannot be valid without letting those fixtures pass.
TEST(ValidateFixtures, FullExampleBreaksTheSchemaOnlyInItsFailureCases) {
  expect_paths(validate_text(read_file(kSchemas / "examples/full.json")),
               {"/flags/starts-ends-flag/targeting/if/2/if/2/if/0/ends_with/1",
                "/flags/equal-greater-lesser-version-flag/targeting/if/2/if/2/if/2/if/0/sem_ver/2"},
               "full.json");
}

// --- document level ------------------------------------------------------------------------

struct DocCase {
  const char* name;
  const char* doc;
  std::multiset<std::string> paths;
};

class DocumentCases : public ::testing::TestWithParam<DocCase> {};

TEST_P(DocumentCases, ReportsExactly) {
  expect_paths(validate_text(GetParam().doc), GetParam().paths, GetParam().doc);
}

#define FLAG_OK R"({"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"})"

const DocCase kDocCases[] = {
    {"NotAnObject", "[]", {""}},
    {"Scalar", "5", {""}},
    {"MissingFlags", R"({"metadata":{}})", {""}},
    {"FlagsWrongType", R"({"flags":"x"})", {"/flags"}},
    {"EmptyFlagsMap", R"({"flags":{}})", {}},
    {"UnknownTopLevelMembersAllowed", R"({"flags":{},"other":1,"$schema":5})", {}},
    {"ArrayFlagsWithoutSchema",
     R"({"flags":[{"key":"a","state":"ENABLED","variants":{"x":1}}]})",
     {}},
    {"ArrayFlagsUnderFlagdJson",
     R"({"$schema":"https://flagd.dev/schema/v0/flagd.json",
         "flags":[{"key":"a","state":"ENABLED","variants":{"x":1}}]})",
     {}},
    {"ArrayFlagsUnderFlagsJson",
     R"({"$schema":"https://flagd.dev/schema/v0/flags.json#x",
         "flags":[{"key":"a","state":"ENABLED","variants":{"x":1}}]})",
     {"/flags"}},
    {"ArrayItemNotObject", R"({"flags":[5]})", {"/flags/0"}},
    {"ArrayItemWithoutKey", R"({"flags":[{"state":"ENABLED","variants":{"x":1}}]})", {"/flags/0"}},
    {"ArrayItemKeyNotString",
     R"({"flags":[{"key":1,"state":"ENABLED","variants":{"x":1}}]})",
     {"/flags/0/key"}},
    {"ArrayItemKeyEmpty",
     R"({"flags":[{"key":"","state":"ENABLED","variants":{"x":1}}]})",
     {"/flags/0/key"}},
    {"ArrayItemsReportedIndividually",
     R"({"flags":[{"key":"a","state":"ON","variants":{"x":1}},{"key":"b","variants":{}}]})",
     {"/flags/0/state", "/flags/1", "/flags/1/variants"}},
    {"EmptyFlagKey", R"({"flags":{"":)" FLAG_OK "}}", {"/flags/"}},
    {"FlagKeyWithLineBreak", R"({"flags":{"a\nb":)" FLAG_OK "}}", {"/flags/a\nb"}},
    {"FlagKeyWithLineSeparator", R"({"flags":{"a\u2028":)" FLAG_OK "}}", {"/flags/a\xE2\x80\xA8"}},
    {"FlagKeyEscapedInPointer",
     R"({"flags":{"a/b~c":{"state":"on","variants":{"x":1}}}})",
     {"/flags/a~1b~0c/state"}},
    {"FlagNotObject", R"({"flags":{"f":[]}})", {"/flags/f"}},
    {"UnknownFlagMembersAllowed",
     R"({"flags":{"f":{"state":"DISABLED","variants":{"x":1},"source":"s","key":5}}})",
     {}},
    {"StateMissing", R"({"flags":{"f":{"variants":{"x":1}}}})", {"/flags/f"}},
    {"StateNotString", R"({"flags":{"f":{"state":1,"variants":{"x":1}}}})", {"/flags/f/state"}},
    {"StateLowercase",
     R"({"flags":{"f":{"state":"enabled","variants":{"x":1}}}})",
     {"/flags/f/state"}},
    {"VariantsMissingAndStateMissing", R"({"flags":{"f":{}}})", {"/flags/f", "/flags/f"}},
    {"VariantsNotObject",
     R"({"flags":{"f":{"state":"ENABLED","variants":["a"]}}})",
     {"/flags/f/variants"}},
    {"VariantsEmpty",
     R"({"flags":{"f":{"state":"ENABLED","variants":{}}}})",
     {"/flags/f/variants"}},
    {"VariantNameEmpty",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"":1,"a":2}}}})",
     {"/flags/f/variants/"}},
    {"VariantValueNull",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":true,"b":null}}}})",
     {"/flags/f/variants/b"}},
    {"VariantValuesAllUnusable",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":null,"b":[1]}}}})",
     {"/flags/f/variants/a", "/flags/f/variants/b"}},
    {"VariantTypeByMajority",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":"x","b":1,"c":2.5},
         "defaultVariant":"a"}}})",
     {"/flags/f/variants/a"}},
    {"VariantTypeTieByDefaultVariant",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":"x","b":true},"defaultVariant":"b"}}})",
     {"/flags/f/variants/a"}},
    {"VariantTypeTieByFirstVariant",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":"x","b":true}}}})",
     {"/flags/f/variants/b"}},
    {"ObjectVariantsRejectArrays",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":{},"b":{"k":1},"c":[]}}}})",
     {"/flags/f/variants/c"}},
    {"IntegerAndFloatVariantsShareNumber",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1,"b":-2.5,"c":1e300}}}})",
     {}},
    {"DefaultVariantNotString",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"defaultVariant":1}}})",
     {"/flags/f/defaultVariant"}},
    {"DefaultVariantUnknown",
     R"({"flags":{"f":{"state":"DISABLED","variants":{"a":1},"defaultVariant":"b"}}})",
     {"/flags/f/defaultVariant"}},
    {"DefaultVariantEmptyMeansNone",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"defaultVariant":""}}})",
     {}},
    {"DefaultVariantNull",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"defaultVariant":null}}})",
     {}},
    {"TargetingEmptyObject",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"targeting":{}}}})",
     {}},
    {"TargetingNull",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"targeting":null}}})",
     {"/flags/f/targeting"}},
    {"FlagMetadataNotObject",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"metadata":[]}}})",
     {"/flags/f/metadata"}},
    {"FlagMetadataValues",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},
         "metadata":{"s":"x","n":1.5,"b":false,"version":2,"o":{},"z":null,"a":[]}}}})",
     {"/flags/f/metadata/o", "/flags/f/metadata/z", "/flags/f/metadata/a"}},
    {"FlagSetMetadataValues",
     R"({"flags":{},"metadata":{"flagSetId":true,"version":1,"n":2,"bad":{}}})",
     {"/metadata/flagSetId", "/metadata/version", "/metadata/bad"}},
    {"FlagSetMetadataNotObject", R"({"flags":{},"metadata":"x"})", {"/metadata"}},
    {"EvaluatorsNotObject", R"({"flags":{},"$evaluators":[]})", {"/$evaluators"}},
    {"EvaluatorNameEmpty", R"({"flags":{},"$evaluators":{"":{"==":[1,1]}}})", {"/$evaluators/"}},
    {"EvaluatorEmpty", R"({"flags":{},"$evaluators":{"e":{}}})", {"/$evaluators/e"}},
    {"EvaluatorNotObject", R"({"flags":{},"$evaluators":{"e":"x"}})", {"/$evaluators/e"}},
    {"EvaluatorInvalidRule",
     R"({"flags":{},"$evaluators":{"e":{"==":[1]}}})",
     {"/$evaluators/e/=="}},
    {"EvaluatorIsReference",
     R"({"flags":{},"$evaluators":{"e":{"$ref":"g"},"g":{"!":[1]}}})",
     {"/$evaluators/e/$ref"}},
    {"NestedReferenceResolves",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"targeting":{"!":{"$ref":"a"}}}},
         "$evaluators":{"a":{"!":{"$ref":"b"}},"b":{"==":[1,1]}}})",
     {}},
    {"ReferenceCycle",
     R"({"flags":{},"$evaluators":{"a":{"!":{"$ref":"b"}},"b":{"or":[1,{"$ref":"a"}]}}})",
     {"/$evaluators/a/!/$ref", "/$evaluators/b/or/1/$ref"}},
    {"ReferenceSelfCycle",
     R"({"flags":{},"$evaluators":{"a":{"!":{"$ref":"a"}}}})",
     {"/$evaluators/a/!/$ref"}},
    {"ReferenceWithoutEvaluators",
     R"({"flags":{"f":{"state":"ENABLED","variants":{"a":1},"targeting":{"!":{"$ref":"x"}}}}})",
     {"/flags/f/targeting/!/$ref"}},
    {"EveryViolationReported",
     R"({"flags":{"a":{"state":"X","variants":{"x":1,"y":"s","z":2}},
                  "b":{"state":"ENABLED","variants":{"x":1},"defaultVariant":"q",
                       "targeting":{"and":[{"bogus":1},{"==":[1]},{"var":"$flagd.x"}]},
                       "metadata":{"m":{}}}},
         "metadata":{"version":1}})",
     {"/flags/a/state", "/flags/a/variants/y", "/flags/b/defaultVariant",
      "/flags/b/targeting/and/0/bogus", "/flags/b/targeting/and/1/==",
      "/flags/b/targeting/and/2/var", "/flags/b/metadata/m", "/metadata/version"}},
};

INSTANTIATE_TEST_SUITE_P(Validate, DocumentCases, ::testing::ValuesIn(kDocCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// --- targeting ---------------------------------------------------------------------------

struct RuleCase {
  const char* name;
  const char* rule;
  std::multiset<std::string> paths;  // relative to the flag's targeting
};

class TargetingCases : public ::testing::TestWithParam<RuleCase> {};

TEST_P(TargetingCases, ReportsExactly) {
  std::multiset<std::string> expected;
  for (const auto& p : GetParam().paths) expected.insert(kT + p);
  expect_paths(targeting(GetParam().rule), expected, GetParam().rule);
}

const RuleCase kRuleCases[] = {
    // Root of targeting.json.
    {"RootArray", "[]", {""}},
    {"RootString", R"("on")", {""}},
    {"RootReference", R"({"$ref":"ev"})", {"/$ref"}},
    {"UnknownOperator", R"({"log":[1]})", {"/log"}},
    {"OperatorsOfOneRuleMayShareAnObject", R"({"==":[1,1],"!=":[1,2]})", {}},
    {"OperatorsOfTwoRulesMayNot", R"({"==":[1,1],"and":[true]})", {""}},
    // var
    {"VarString", R"({"var":"user.email"})", {}},
    {"VarWithDefault", R"({"var":["x",1]})", {}},
    {"VarOtherTypesUnconstrained", R"({"var":5})", {}},
    {"VarFlagdTimestamp", R"({"var":"$flagd.timestamp"})", {}},
    {"VarFlagdFlagKey", R"({"var":"$flagd.flagKey"})", {}},
    {"VarUnknownFlagdProperty", R"({"var":"$flagd.targetingKey"})", {"/var"}},
    {"VarFlagdPropertyInArrayUnconstrained", R"({"var":["$flagd.x"]})", {}},
    // missing / missing_some
    {"Missing", R"({"missing":["a","b"]})", {}},
    {"MissingNotArray", R"({"missing":"a"})", {"/missing"}},
    {"MissingNonString", R"({"missing":["a",1]})", {"/missing/1"}},
    {"MissingSome", R"({"missing_some":[1,["a","b"]]})", {}},
    {"MissingSomeMinimumNotNumber", R"({"missing_some":["1",["a"]]})", {"/missing_some/0"}},
    {"MissingSomeArity", R"({"missing_some":[1]})", {"/missing_some"}},
    {"MissingSomeNamesNotStrings", R"({"missing_some":[1,[2]]})", {"/missing_some/1/0"}},
    // Arity of the argument lists.
    {"IfOneArgument", R"({"if":[true]})", {}},
    {"IfNoArguments", R"({"if":[]})", {"/if"}},
    {"IfNotArray", R"({"if":true})", {"/if"}},
    {"BinaryTooFew", R"({"==":[1]})", {"/=="}},
    {"BinaryTooMany", R"({"in":[1,2,3]})", {"/in"}},
    {"BetweenThreeArguments", R"({"<":[1,2,3]})", {}},
    {"BetweenFourArguments", R"({"<=":[1,2,3,4]})", {"/<="}},
    {"SubstrOneArgument", R"({"substr":["abc"]})", {"/substr"}},
    {"MultiplyOneArgument", R"({"*":[2]})", {"/*"}},
    {"PlusOneArgument", R"({"+":["3.14"]})", {}},
    {"ReduceTwoArguments", R"({"reduce":[[1],0]})", {"/reduce"}},
    {"UnaryScalar", R"({"!":true})", {}},
    {"UnaryAnyArrayIsAPrimitive", R"({"!":[1,{"bogus":1}]})", {}},
    {"UnaryRule", R"({"!!":{"var":"x"}})", {}},
    {"UnaryEmptyObject", R"({"!":{}})", {"/!"}},
    {"UnaryUnknownOperator", R"({"!":{"bogus":1}})", {"/!/bogus"}},
    // Arguments.
    {"ArrayArgumentsAreNotLookedInto", R"({"in":["a",[{"bogus":1}]]})", {}},
    {"EmptyObjectArgument", R"({"if":[{}]})", {"/if/0"}},
    {"ReferenceArgument", R"({"if":[{"$ref":"ev"},"on","off"]})", {}},
    {"ReferenceNotString", R"({"if":[{"$ref":5}]})", {"/if/0/$ref"}},
    {"ReferenceWithOtherMembers", R"({"if":[{"$ref":"ev","==":[1,1]}]})", {"/if/0"}},
    {"ReferenceUnknown", R"({"if":[{"$ref":"nope"}]})", {"/if/0/$ref"}},
    {"ReferenceUnknownInsideArrayLiteral", R"({"in":["a",[{"$ref":"nope"}]]})", {"/in/1/0/$ref"}},
    {"NestedViolations", R"({"and":[{"or":[{"!":{"==":[1]}}]}]})", {"/and/0/or/0/!/=="}},
    // starts_with / ends_with
    {"StartsWithRuleAndString", R"({"starts_with":[{"var":"id"},"abc"]})", {}},
    {"EndsWithEmptyRule", R"({"ends_with":[{},"abc"]})", {}},
    {"StartsWithArity", R"({"starts_with":["a"]})", {"/starts_with"}},
    {"StartsWithNotArray", R"({"starts_with":"a"})", {"/starts_with"}},
    {"EndsWithNull", R"({"ends_with":[null,"a"]})", {"/ends_with/0"}},
    {"EndsWithReference", R"({"ends_with":[{"$ref":"ev"},"a"]})", {"/ends_with/0/$ref"}},
    // sem_ver
    {"SemVer", R"({"sem_ver":[{"var":"v"},"^","1.0.0-rc.1+b.5"]})", {}},
    {"SemVerEmptyVarRule", R"({"sem_ver":["1.0.0","~",{}]})", {}},
    {"SemVerOperandOtherRule", R"({"sem_ver":[{"cat":["1"]},"=","1.0.0"]})", {"/sem_ver/0"}},
    {"SemVerOperandNumber", R"({"sem_ver":[1,"=","1.0.0"]})", {"/sem_ver/0"}},
    {"SemVerOperandFlagdVar",
     R"({"sem_ver":[{"var":"$flagd.x"},"=","1.0.0"]})",
     {"/sem_ver/0/var"}},
    {"SemVerLeadingV", R"({"sem_ver":["v1.0.0","=","1.0.0"]})", {"/sem_ver/0"}},
    {"SemVerArity", R"({"sem_ver":["1.0.0","="]})", {"/sem_ver"}},
    {"SemVerOperator", R"({"sem_ver":["1.0.0","==","1.0.0"]})", {"/sem_ver/1"}},
    // fractional
    {"FractionalShorthand", R"({"fractional":[["a",50],["b",50]]})", {}},
    {"FractionalBucketWithoutWeight", R"({"fractional":[["a"],["b",1]]})", {}},
    {"FractionalOnlyBucketingRule", R"({"fractional":[{"var":"k"}]})", {}},
    {"FractionalComputedWeight", R"({"fractional":[{"var":"k"},["a",{"var":"w"}],["b",{}]]})", {}},
    {"FractionalIntegralFloatWeight", R"({"fractional":[["a",25.0],["b",1e2]]})", {}},
    {"FractionalVariantExpression", R"({"fractional":[[{"var":"x"},1],[["arr"],1],[null,1]]})", {}},
    {"FractionalNotArray", R"({"fractional":"a"})", {"/fractional"}},
    {"FractionalEmpty", R"({"fractional":[]})", {"/fractional"}},
    {"FractionalReferenceAsBucketing",
     R"({"fractional":[{"$ref":"ev"},["a",1]]})",
     {"/fractional/0/$ref"}},
    {"FractionalBucketNotArray", R"({"fractional":[{"var":"k"},"a",["b",1]]})", {"/fractional/1"}},
    {"FractionalBucketEmpty", R"({"fractional":[[]]})", {"/fractional/0"}},
    {"FractionalBucketTooLong", R"({"fractional":[["a",1,2]]})", {"/fractional/0"}},
    {"FractionalBucketVariantEmptyObject", R"({"fractional":[[{},1]]})", {"/fractional/0/0"}},
    {"FractionalWeightReference",
     R"({"fractional":[["a",{"$ref":"ev"}]]})",
     {"/fractional/0/1/$ref"}},
    {"FractionalWeightNull", R"({"fractional":[["a",null]]})", {"/fractional/0/1"}},
    {"FractionalWeightsAtLimit", R"({"fractional":[["a",2147483646],["b"]]})", {}},
    {"FractionalWeightsOverLimit", R"({"fractional":[["a",2147483647],["b"]]})", {"/fractional"}},
    {"FractionalEveryBadWeight",
     R"({"fractional":[["a",-1],["b",0.5],["c","1"],["d",true]]})",
     {"/fractional/0/1", "/fractional/1/1", "/fractional/2/1", "/fractional/3/1"}},
};

INSTANTIATE_TEST_SUITE_P(Validate, TargetingCases, ::testing::ValuesIn(kRuleCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ValidateSemVer, FollowsTheSemVerOrgPattern) {
  const char* valid[] = {"0.0.0",
                         "1.2.3",
                         "10.20.30",
                         "1.0.0-alpha",
                         "1.0.0-alpha.1",
                         "1.0.0-0.3.7",
                         "1.0.0-x.7.z.92",
                         "1.0.0-x-y-z.--",
                         "1.0.0-0a",
                         "1.0.0-alpha+001",
                         "1.0.0+20130313144700",
                         "1.0.0-beta+exp.sha.5114f85",
                         "1.0.0+21AF26D3----117B344092BD"};
  const char* invalid[] = {"",           "1",          "1.2",      "1.2.3.4",  "01.1.1",
                           "1.01.1",     "1.1.01",     "1.2.3-01", "1.2.3-",   "1.2.3+",
                           "1.2.3-a..b", "1.2.3+a..b", "v1.2.3",   " 1.2.3",   "1.2.3 ",
                           "1.2.3\n",    "1.2.3-a_b",  "-1.2.3",   "1.2.3-+b", "1..3"};
  for (const char* v : valid) {
    EXPECT_TRUE(validate(with_targeting({{"sem_ver", {v, "=", "1.0.0"}}})).empty()) << v;
  }
  for (const char* v : invalid) {
    expect_paths(validate(with_targeting({{"sem_ver", {v, "=", "1.0.0"}}})), {kT + "/sem_ver/0"},
                 v);
  }
}

// --- robustness --------------------------------------------------------------------------

TEST(ValidateText, ParseFailureIsOneViolationAtTheRoot) {
  const auto vs = validate_text(R"({"flags": {)");
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].path, "");
  EXPECT_NE(vs[0].reason.find("invalid_json"), std::string::npos) << vs[0].reason;
}

TEST(ValidateText, NumberOverflowIsOneViolationAtTheRoot) {
  const auto vs = validate_text(R"({"flags":{},"metadata":{"n":1e400}})");
  ASSERT_EQ(vs.size(), 1u) << describe(vs);
  EXPECT_EQ(vs[0].path, "");
}

TEST(ValidateText, OverDeepDocumentIsOneViolationAtTheRoot) {
  const std::string deep = R"({"flags":)" + std::string(100, '[') + std::string(100, ']') + "}";
  const auto vs = validate_text(deep);
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].path, "");
  EXPECT_NE(vs[0].reason.find("too_deep"), std::string::npos) << vs[0].reason;
}

TEST(ValidateRobustness, DeepRuleBuiltInMemoryIsCutOff) {
  Json doc = with_targeting(Json::object());
  Json* node = &doc["flags"]["f"]["targeting"];
  for (int i = 0; i < 100000; ++i) node = &(*node)["!"];
  *node = true;
  const auto vs = validate(doc);
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].reason.find("levels deep"), std::string::npos);
  EXPECT_EQ(vs[0].path.rfind(kT + "/!/!/", 0), 0u);
}

TEST(ValidateRobustness, LongReferenceChainDoesNotRecurse) {
  // e0 -> e1 -> ... -> e99999 -> a <-> b: only the two references of the cycle are reported.
  Json evaluators = Json::object();
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const std::string next = i + 1 < n ? "e" + std::to_string(i + 1) : "a";
    evaluators["e" + std::to_string(i)] = {{"!", {{"$ref", next}}}};
  }
  evaluators["a"] = {{"!", {{"$ref", "b"}}}};
  evaluators["b"] = {{"!", {{"$ref", "a"}}}};
  expect_paths(validate(Json{{"flags", Json::object()}, {"$evaluators", evaluators}}),
               {"/$evaluators/a/!/$ref", "/$evaluators/b/!/$ref"}, "chain");
}

TEST(ValidateRobustness, ViolationCountIsCapped) {
  Json flags = Json::object();
  for (int i = 0; i < 30000; ++i) flags["f" + std::to_string(i)] = {{"state", 1}};
  const auto vs = validate(Json{{"flags", flags}});
  ASSERT_EQ(vs.size(), 10001u);
  EXPECT_EQ(vs.back().path, "");
  EXPECT_NE(vs.back().reason.find("too many violations"), std::string::npos);
}

TEST(ValidateRobustness, ReasonsQuoteLongNamesBriefly) {
  const std::string op(10000, 'x');
  const auto vs = validate(with_targeting({{op, 1}}));
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].path, kT + "/" + op);
  EXPECT_LT(vs[0].reason.size(), 200u);
}

TEST(ValidateRobustness, InvalidUtf8InMemoryDoesNotThrow) {
  const std::string bad = "\xff\xfe";
  std::vector<Violation> vs;
  EXPECT_NO_THROW(vs = validate(with_targeting({{bad, 1}})));
  EXPECT_EQ(vs.size(), 1u);
}

}  // namespace
}  // namespace ff::flags
