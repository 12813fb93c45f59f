// JSON Logic operators that flagd's targeting.json allows (flagd-notes §2 "Operators allowed by
// the schema"), with vectors from the JSON Logic operations reference (jsonlogic.com) unless a
// comment names another source. Where flagd's evaluators (flagd Go's diegoholiveira/jsonlogic and
// flagd-core's json-logic-engine) disagree with each other on an edge, the edge is left out.
#include <gtest/gtest.h>

#include "common/eval/logic.h"
#include "eval_test_util.h"

namespace ff::eval::test {
namespace {

// --- accessing data -------------------------------------------------------------------------

TEST(JsonLogicVar, ReadsTopLevelKeys) {
  // jsonlogic.com "var": string and one-element array forms.
  EXPECT_TRUE(evals_to(R"({"var":"a"})", R"({"a":1})", "1"));
  EXPECT_TRUE(evals_to(R"({"var":["a"]})", R"({"a":1})", "1"));
  EXPECT_TRUE(evals_to(R"({"var":"email"})", R"({"email":"x@y.z"})", R"("x@y.z")"));
}

TEST(JsonLogicVar, MissingKeyIsNull) {
  // jsonlogic.com "var": a missing key yields null unless a default is given.
  EXPECT_TRUE(evals_to(R"({"var":"nope"})", R"({"a":1})", "null"));
  EXPECT_TRUE(evals_to(R"({"var":"a.b.c"})", R"({"a":{}})", "null"));
  EXPECT_TRUE(evals_to(R"({"var":"a.b"})", R"({"a":5})", "null"));
}

TEST(JsonLogicVar, DefaultApplies) {
  // jsonlogic.com "var": {"var":["z", 26]} -> 26 when z is missing; the value wins otherwise.
  EXPECT_TRUE(evals_to(R"({"var":["z",26]})", R"({"a":1})", "26"));
  EXPECT_TRUE(evals_to(R"({"var":["a",26]})", R"({"a":1})", "1"));
  EXPECT_TRUE(evals_to(R"({"var":["a.b.c","dflt"]})", R"({"a":{}})", R"("dflt")"));
  // A present falsy value is not missing.
  EXPECT_TRUE(evals_to(R"({"var":["a","d"]})", R"({"a":false})", "false"));
  EXPECT_TRUE(evals_to(R"({"var":["a","d"]})", R"({"a":0})", "0"));
}

TEST(JsonLogicVar, DottedPaths) {
  // jsonlogic.com "var": dot-notation into nested objects and numeric array indices.
  EXPECT_TRUE(evals_to(R"({"var":"champ.name"})", R"({"champ":{"name":"Fezzig","height":223}})",
                       R"("Fezzig")"));
  EXPECT_TRUE(evals_to(R"({"var":"user.name"})", R"({"user":{"name":"jack"}})", R"("jack")"));
  EXPECT_TRUE(evals_to(R"({"var":"a.1"})", R"({"a":[10,20]})", "20"));
  EXPECT_TRUE(evals_to(R"({"var":"a.b.c"})", R"({"a":{"b":{"c":true}}})", "true"));
}

TEST(JsonLogicVar, ReturnsStructuredValues) {
  EXPECT_TRUE(evals_to(R"({"var":"o"})", R"({"o":{"k":[1,2]}})", R"({"k":[1,2]})"));
  EXPECT_TRUE(evals_to(R"({"var":"arr"})", R"({"arr":[1,"two",null]})", R"([1,"two",null])"));
}

TEST(JsonLogicVar, NumericPathInsideMap) {
  // jsonlogic.com "var": {"var":1} indexes an array datum (here each element of a map).
  EXPECT_TRUE(evals_to(R"({"map":[[[1,2],[3,4]],{"var":1}]})", "{}", "[2,4]"));
  EXPECT_TRUE(evals_to(R"({"map":[[[1,2],[3,4]],{"var":"0"}]})", "{}", "[1,3]"));
}

TEST(JsonLogicVar, TargetingKeyAndUnicode) {
  // testbed flags/testing-flags.json "context-aware": non-ASCII strings compare byte-exactly.
  EXPECT_TRUE(evals_to(R"({"var":"targetingKey"})", R"({"targetingKey":"u-1"})", R"("u-1")"));
  EXPECT_TRUE(
      evals_to(R"({"and":[{"==":[{"var":["fn"]},"Sulisław"]},{"==":[{"var":["ln"]},"Świętopełk"]},)"
               R"({"==":[{"var":["age"]},29]},{"==":[{"var":["customer"]},false]}]})",
               R"({"fn":"Sulisław","ln":"Świętopełk","age":29,"customer":false})", "true"));
}

TEST(JsonLogicMissing, ListsMissingKeys) {
  // jsonlogic.com "missing".
  EXPECT_TRUE(evals_to(R"({"missing":["a","b"]})", R"({"a":"apple","c":"carrot"})", R"(["b"])"));
  EXPECT_TRUE(evals_to(R"({"missing":["a","b"]})", R"({"a":"apple","b":"banana"})", "[]"));
  EXPECT_TRUE(evals_to(R"({"missing":["a","b"]})", "{}", R"(["a","b"])"));
  EXPECT_TRUE(evals_to(R"({"missing":["x.y"]})", R"({"x":{"y":1}})", "[]"));
  EXPECT_TRUE(evals_to(R"({"missing":["x.y"]})", R"({"x":{}})", R"(["x.y"])"));
  // Present falsy values are not missing.
  EXPECT_TRUE(evals_to(R"({"missing":["a"]})", R"({"a":0})", "[]"));
  EXPECT_TRUE(evals_to(R"({"missing":["a"]})", R"({"a":false})", "[]"));
}

TEST(JsonLogicMissing, AcceptsComputedKeyList) {
  // jsonlogic.com "missing": with "merge" and "if" building the key list.
  constexpr const char* rule =
      R"({"missing":{"merge":["vin",{"if":[{"var":"financing"},["apr","term"],[]]}]}})";
  EXPECT_TRUE(evals_to(rule, R"({"financing":true})", R"(["vin","apr","term"])"));
  EXPECT_TRUE(evals_to(rule, R"({"financing":false})", R"(["vin"])"));
}

TEST(JsonLogicMissingSome, NeedsMinimumPresent) {
  // jsonlogic.com "missing_some".
  EXPECT_TRUE(evals_to(R"({"missing_some":[1,["a","b","c"]]})", R"({"a":"apple"})", "[]"));
  EXPECT_TRUE(
      evals_to(R"({"missing_some":[2,["a","b","c"]]})", R"({"a":"apple"})", R"(["b","c"])"));
  EXPECT_TRUE(evals_to(R"({"missing_some":[0,["a","b"]]})", "{}", "[]"));
  EXPECT_TRUE(evals_to(R"({"missing_some":[2,["a","b"]]})", R"({"a":1,"b":2})", "[]"));
}

// --- logic and boolean operations -----------------------------------------------------------

TEST(JsonLogicIf, ThenElse) {
  // jsonlogic.com "if".
  EXPECT_TRUE(evals_to(R"({"if":[true,"yes","no"]})", "{}", R"("yes")"));
  EXPECT_TRUE(evals_to(R"({"if":[false,"yes","no"]})", "{}", R"("no")"));
  EXPECT_TRUE(
      evals_to(R"({"if":[{"==":[{"var":"x"},1]},"one","other"]})", R"({"x":1})", R"("one")"));
}

TEST(JsonLogicIf, ElseIfChains) {
  // jsonlogic.com "if": the temperature example.
  constexpr const char* rule =
      R"({"if":[{"<":[{"var":"temp"},0]},"freezing",{"<":[{"var":"temp"},100]},"liquid","gas"]})";
  EXPECT_TRUE(evals_to(rule, R"({"temp":-5})", R"("freezing")"));
  EXPECT_TRUE(evals_to(rule, R"({"temp":55})", R"("liquid")"));
  EXPECT_TRUE(evals_to(rule, R"({"temp":200})", R"("gas")"));
  EXPECT_TRUE(evals_to(R"({"if":[false,1,false,2,3]})", "{}", "3"));
  EXPECT_TRUE(evals_to(R"({"if":[false,1,true,2,3]})", "{}", "2"));
}

TEST(JsonLogicIf, NoElseGivesNull) {
  // testbed no-default-flag-undefined-targeting-variant: an `if` without else yields null.
  EXPECT_TRUE(evals_to(R"({"if":[false,"a"]})", "{}", "null"));
  EXPECT_TRUE(evals_to(R"({"if":[]})", "{}", "null"));
}

TEST(JsonLogicIf, NullConditionIsFalsy) {
  // flagd-notes §2: "Inside an if, null is falsy".
  EXPECT_TRUE(evals_to(R"({"if":[null,"a","b"]})", "{}", R"("b")"));
  EXPECT_TRUE(evals_to(R"({"if":[{"var":"missing"},"a","b"]})", "{}", R"("b")"));
}

TEST(JsonLogicIf, UntakenBranchIsNotEvaluated) {
  // jsonlogic.com "if" is lazy; logic.h contract: division by zero is an error, so evaluating the
  // untaken branch would fail the rule.
  EXPECT_TRUE(
      evals_to(R"({"if":[false,{"/":[1,{"var":"zero"}]},"ok"]})", R"({"zero":0})", R"("ok")"));
  EXPECT_TRUE(
      evals_to(R"({"if":[true,"ok",{"/":[1,{"var":"zero"}]}]})", R"({"zero":0})", R"("ok")"));
}

TEST(JsonLogicEquality, LooseEquality) {
  // jsonlogic.com "==": {"==":[1,1]}, {"==":[1,"1"]} and {"==":[0,false]} are all true.
  EXPECT_TRUE(evals_to(R"({"==":[1,1]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"==":[1,"1"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"==":[0,false]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"==":[1,2]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"==":["a","a"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"==":["a","b"]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"==":[null,null]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"==":[1,1.0]})", "{}", "true"));
  // testbed targeting-key-flag: a context value against a literal.
  EXPECT_TRUE(evals_to(R"({"==":[{"var":"targetingKey"},"5c3d8535-f81a-4478-a6d3-afaa4d51199e"]})",
                       R"({"targetingKey":"5c3d8535-f81a-4478-a6d3-afaa4d51199e"})", "true"));
}

TEST(JsonLogicEquality, StrictEquality) {
  // jsonlogic.com "===": {"===":[1,1]} true, {"===":[1,"1"]} false.
  EXPECT_TRUE(evals_to(R"({"===":[1,1]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"===":[1,"1"]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"===":[0,false]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"===":["a","a"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"===":[true,true]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"===":[null,null]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"===":[1,1.0]})", "{}", "true"));
}

TEST(JsonLogicEquality, Inequality) {
  // jsonlogic.com "!=" and "!==".
  EXPECT_TRUE(evals_to(R"({"!=":[1,2]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!=":[1,"1"]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"!==":[1,2]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!==":[1,"1"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!==":[1,1]})", "{}", "false"));
}

TEST(JsonLogicNot, NegatesTruthiness) {
  // jsonlogic.com "!" and "!!"; unary operators also accept a bare (non-array) argument.
  EXPECT_TRUE(evals_to(R"({"!":[true]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"!":true})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"!":[false]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!":[[]]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!":["0"]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"!!":[[]]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"!!":["0"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!!":[["0"]]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"!!":{"var":"x"}})", R"({"x":"set"})", "true"));
}

TEST(JsonLogicAndOr, ReturnValues) {
  // jsonlogic.com "and"/"or": the first falsy (and) or truthy (or) argument, else the last.
  EXPECT_TRUE(evals_to(R"({"and":[true,true]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"and":[true,false]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"and":[false,true]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"and":[true,"a",3]})", "{}", "3"));
  EXPECT_TRUE(evals_to(R"({"and":[true,"",3]})", "{}", R"("")"));
  EXPECT_TRUE(evals_to(R"({"or":[true,false]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"or":[false,true]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"or":[false,"a"]})", "{}", R"("a")"));
  EXPECT_TRUE(evals_to(R"({"or":[false,0,"a"]})", "{}", R"("a")"));
  EXPECT_TRUE(evals_to(R"({"or":[0,false]})", "{}", "false"));
}

TEST(JsonLogicAndOr, ShortCircuit) {
  // jsonlogic.com: "and"/"or" stop at the deciding argument; logic.h contract: division by zero
  // is an error, so evaluating the rest would fail the rule.
  EXPECT_TRUE(evals_to(R"({"and":[false,{"/":[1,{"var":"zero"}]}]})", R"({"zero":0})", "false"));
  EXPECT_TRUE(evals_to(R"({"or":[true,{"/":[1,{"var":"zero"}]}]})", R"({"zero":0})", "true"));
}

// --- numeric operations ---------------------------------------------------------------------

TEST(JsonLogicCompare, LessThan) {
  // jsonlogic.com "<", including the three-argument "between" form (exclusive).
  EXPECT_TRUE(evals_to(R"({"<":[1,2]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<":[2,1]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"<":[1,1]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"<":[1,2,3]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<":[1,1,3]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"<":[1,4,3]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"<":[0,{"var":"temp"},100]})", R"({"temp":37})", "true"));
}

TEST(JsonLogicCompare, LessOrEqual) {
  // jsonlogic.com "<=", including the inclusive "between" form.
  EXPECT_TRUE(evals_to(R"({"<=":[1,2]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<=":[2,2]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<=":[3,2]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"<=":[1,1,3]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<=":[1,3,3]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<=":[1,4,3]})", "{}", "false"));
}

TEST(JsonLogicCompare, GreaterThan) {
  // jsonlogic.com ">" and ">=".
  EXPECT_TRUE(evals_to(R"({">":[2,1]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({">":[1,1]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({">=":[1,1]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({">=":[0,1]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({">":[2.5,2]})", "{}", "true"));
}

TEST(JsonLogicCompare, Coercion) {
  // logic.h contract: JavaScript-style comparison. Two strings compare as strings; a string and
  // a number compare numerically.
  EXPECT_TRUE(evals_to(R"({"<":["a","b"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<":["2",11]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({">":["10",9]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({">=":["b","a"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"<=":["a","a"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"==":[1.5,"1.5"]})", "{}", "true"));
  // A missing attribute is null, which compares as 0 (JavaScript; flagd Go's jsonlogic casts
  // null to 0 as well): the common {"<":[{"var":"age"},18]} is true without an age.
  EXPECT_TRUE(evals_to(R"({"<":[{"var":"age"},18]})", "{}", "true"));
}

TEST(JsonLogicCompare, TimestampAgainstContext) {
  // testbed gherkin/targeting.feature "Time-based operations": $flagd.timestamp compared with a
  // context value (here with a fixed timestamp).
  constexpr const char* rule =
      R"({"if":[{">":[{"var":"$flagd.timestamp"},{"var":"time"}]},"past","future"]})";
  auto past = run(j(rule), j(R"({"time":1})"), "f", 1'700'000'000);
  ASSERT_TRUE(past.ok()) << past.error().to_string();
  EXPECT_EQ(*past, Json("past"));
  auto future = run(j(rule), j(R"({"time":4133980802})"), "f", 1'700'000'000);
  ASSERT_TRUE(future.ok()) << future.error().to_string();
  EXPECT_EQ(*future, Json("future"));
}

TEST(JsonLogicArithmetic, Operators) {
  // jsonlogic.com "+", "-", "*", "/", "%".
  EXPECT_TRUE(evals_to(R"({"+":[4,2]})", "{}", "6"));
  EXPECT_TRUE(evals_to(R"({"+":[2,2,2,2,2]})", "{}", "10"));
  EXPECT_TRUE(evals_to(R"({"-":[4,2]})", "{}", "2"));
  EXPECT_TRUE(evals_to(R"({"-":[2]})", "{}", "-2"));
  EXPECT_TRUE(evals_to(R"({"*":[4,2]})", "{}", "8"));
  EXPECT_TRUE(evals_to(R"({"*":[2,2,2,2,2]})", "{}", "32"));
  EXPECT_TRUE(evals_to(R"({"/":[4,2]})", "{}", "2"));
  EXPECT_TRUE(evals_to(R"({"/":[1,4]})", "{}", "0.25"));
  EXPECT_TRUE(evals_to(R"({"%":[101,2]})", "{}", "1"));
  EXPECT_TRUE(evals_to(R"({"%":[7,3]})", "{}", "1"));
  EXPECT_TRUE(evals_to(R"({"+":[0.1,0.2]})", "{}", "0.30000000000000004"));
}

TEST(JsonLogicArithmetic, NumericStringsAreCast) {
  // jsonlogic.com "+": {"+":"3.14"} casts a string to a number.
  EXPECT_TRUE(evals_to(R"({"+":"3.14"})", "{}", "3.14"));
  EXPECT_TRUE(evals_to(R"({"+":["3",1]})", "{}", "4"));
  EXPECT_TRUE(evals_to(R"({"*":["2","3"]})", "{}", "6"));
  EXPECT_TRUE(evals_to(R"({"-":["5","2"]})", "{}", "3"));
}

TEST(JsonLogicArithmetic, ErrorsAreErrors) {
  // logic.h contract: arithmetic on a non-number string and division by zero are errors.
  EXPECT_TRUE(fails(R"({"+":["abc",1]})"));
  EXPECT_TRUE(fails(R"({"/":[1,0]})"));
  EXPECT_TRUE(fails(R"({"%":[1,0]})"));
  EXPECT_TRUE(fails(R"({"/":[1,{"var":"z"}]})", R"({"z":0})"));
}

TEST(JsonLogicMinMax, PickExtremes) {
  // jsonlogic.com "max"/"min".
  EXPECT_TRUE(evals_to(R"({"max":[1,2,3]})", "{}", "3"));
  EXPECT_TRUE(evals_to(R"({"min":[1,2,3]})", "{}", "1"));
  EXPECT_TRUE(evals_to(R"({"max":[7]})", "{}", "7"));
  EXPECT_TRUE(evals_to(R"({"min":[-1,5.5]})", "{}", "-1"));
  EXPECT_TRUE(evals_to(R"({"max":[{"var":"a"},{"var":"b"}]})", R"({"a":4,"b":9})", "9"));
}

// --- strings --------------------------------------------------------------------------------

TEST(JsonLogicCat, Concatenates) {
  // jsonlogic.com "cat".
  EXPECT_TRUE(evals_to(R"({"cat":["I love"," pie"]})", "{}", R"("I love pie")"));
  EXPECT_TRUE(evals_to(R"({"cat":["I love ",{"var":"filling"}," pie"]})", R"({"filling":"apple"})",
                       R"("I love apple pie")"));
  EXPECT_TRUE(evals_to(R"({"cat":"solo"})", "{}", R"("solo")"));
  // Numbers print as JavaScript does (integers without a fraction).
  EXPECT_TRUE(evals_to(R"({"cat":["v",1]})", "{}", R"("v1")"));
  EXPECT_TRUE(evals_to(R"({"cat":["x",1.5]})", "{}", R"("x1.5")"));
  EXPECT_TRUE(evals_to(R"({"cat":[1,2]})", "{}", R"("12")"));
  // testbed fractional-flag: the bucketing string is built with cat and $flagd.flagKey.
  EXPECT_TRUE(evals_to(R"({"cat":[{"var":"$flagd.flagKey"},{"var":"user.name"}]})",
                       R"({"user":{"name":"jack"}})", R"("fractional-flagjack")",
                       "fractional-flag"));
}

TEST(JsonLogicSubstr, Slices) {
  // jsonlogic.com "substr": negative start counts from the end, negative length stops short.
  EXPECT_TRUE(evals_to(R"({"substr":["jsonlogic",4]})", "{}", R"("logic")"));
  EXPECT_TRUE(evals_to(R"({"substr":["jsonlogic",-5]})", "{}", R"("logic")"));
  EXPECT_TRUE(evals_to(R"({"substr":["jsonlogic",1,3]})", "{}", R"("son")"));
  EXPECT_TRUE(evals_to(R"({"substr":["jsonlogic",4,-2]})", "{}", R"("log")"));
  EXPECT_TRUE(evals_to(R"({"substr":["jsonlogic",0,4]})", "{}", R"("json")"));
  EXPECT_TRUE(evals_to(R"({"substr":["abc",10]})", "{}", R"("")"));
}

TEST(JsonLogicIn, ArraysAndStrings) {
  // jsonlogic.com "in": membership in an array, substring in a string.
  EXPECT_TRUE(evals_to(R"({"in":["Spring",["Spring","Summer"]]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"in":["Fall",["Spring","Summer"]]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"in":["Spring","Springfield"]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"in":["i","team"]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"in":[1,[1,2]]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"in":["x",[]]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"in":[{"var":"region"},["eu-west","eu-central"]]})",
                       R"({"region":"eu-central"})", "true"));
  EXPECT_TRUE(evals_to(R"({"in":["@example.com",{"var":"email"}]})",
                       R"({"email":"bob@example.com"})", "true"));
}

// --- arrays ---------------------------------------------------------------------------------

TEST(JsonLogicMerge, FlattensOneLevel) {
  // jsonlogic.com "merge".
  EXPECT_TRUE(evals_to(R"({"merge":[[1,2],[3,4]]})", "{}", "[1,2,3,4]"));
  EXPECT_TRUE(evals_to(R"({"merge":[1,2,[3,4]]})", "{}", "[1,2,3,4]"));
  EXPECT_TRUE(evals_to(R"({"merge":[[1,[2]],3]})", "{}", "[1,[2],3]"));
  EXPECT_TRUE(evals_to(R"({"merge":[]})", "{}", "[]"));
  EXPECT_TRUE(
      evals_to(R"({"merge":[{"var":"a"},{"var":"b"}]})", R"({"a":[1],"b":[2,3]})", "[1,2,3]"));
}

TEST(JsonLogicMap, AppliesToEachElement) {
  // jsonlogic.com "map": inside the mapper, var is relative to the element.
  EXPECT_TRUE(evals_to(R"({"map":[{"var":"integers"},{"*":[{"var":""},2]}]})",
                       R"({"integers":[1,2,3,4,5]})", "[2,4,6,8,10]"));
  EXPECT_TRUE(
      evals_to(R"({"map":[{"var":"xs"},{"var":"n"}]})", R"({"xs":[{"n":1},{"n":2}]})", "[1,2]"));
  EXPECT_TRUE(evals_to(R"({"map":[{"var":"missing"},{"*":[{"var":""},2]}]})", "{}", "[]"));
}

TEST(JsonLogicFilter, KeepsPassingElements) {
  // jsonlogic.com "filter".
  EXPECT_TRUE(evals_to(R"({"filter":[{"var":"integers"},{"%":[{"var":""},2]}]})",
                       R"({"integers":[1,2,3,4,5]})", "[1,3,5]"));
  EXPECT_TRUE(evals_to(R"({"filter":[{"var":"integers"},{">=":[{"var":""},2]}]})",
                       R"({"integers":[1,2,3]})", "[2,3]"));
  EXPECT_TRUE(evals_to(R"({"filter":[[],{"var":""}]})", "{}", "[]"));
}

TEST(JsonLogicReduce, Folds) {
  // jsonlogic.com "reduce": "current" and "accumulator" are bound inside the reducer.
  EXPECT_TRUE(evals_to(
      R"({"reduce":[{"var":"integers"},{"+":[{"var":"current"},{"var":"accumulator"}]},0]})",
      R"({"integers":[1,2,3,4,5]})", "15"));
  EXPECT_TRUE(evals_to(
      R"({"reduce":[{"var":"integers"},{"*":[{"var":"current"},{"var":"accumulator"}]},1]})",
      R"({"integers":[1,2,3,4,5]})", "120"));
  EXPECT_TRUE(
      evals_to(R"({"reduce":[[],{"+":[{"var":"current"},{"var":"accumulator"}]},7]})", "{}", "7"));
  EXPECT_TRUE(evals_to(
      R"({"reduce":[{"var":"missing"},{"+":[{"var":"current"},{"var":"accumulator"}]},0]})", "{}",
      "0"));
}

TEST(JsonLogicQuantifiers, AllSomeNone) {
  // jsonlogic.com "all", "none", "some"; over an empty array all and some are false, none true.
  EXPECT_TRUE(evals_to(R"({"all":[[1,2,3],{">":[{"var":""},0]}]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"all":[[1,-2,3],{">":[{"var":""},0]}]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"all":[[],{">":[{"var":""},0]}]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"some":[[-1,0,1],{">":[{"var":""},0]}]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"some":[[-1,0],{">":[{"var":""},0]}]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"some":[[],{">":[{"var":""},0]}]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"none":[[-3,-2,-1],{">":[{"var":""},0]}]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"none":[[-3,2],{">":[{"var":""},0]}]})", "{}", "false"));
  EXPECT_TRUE(evals_to(R"({"none":[[],{">":[{"var":""},0]}]})", "{}", "true"));
}

TEST(JsonLogicQuantifiers, OverContextObjects) {
  // jsonlogic.com "some"/"all": the pies example.
  constexpr const char* pies =
      R"({"pies":[{"filling":"pumpkin","temp":110},{"filling":"rhubarb","temp":210},)"
      R"({"filling":"apple","temp":310}]})";
  EXPECT_TRUE(
      evals_to(R"({"some":[{"var":"pies"},{"==":[{"var":"filling"},"apple"]}]})", pies, "true"));
  EXPECT_TRUE(evals_to(R"({"all":[{"var":"pies"},{"<":[{"var":"temp"},400]}]})", pies, "true"));
  EXPECT_TRUE(
      evals_to(R"({"none":[{"var":"pies"},{"==":[{"var":"filling"},"cherry"]}]})", pies, "true"));
}

// --- truthiness, literals, compile errors ---------------------------------------------------

TEST(JsonLogicTruthiness, TruthyFunction) {
  // logic.h contract (json-logic-engine, as flagd-core): false, null, 0, "", [] and {} are falsy.
  EXPECT_FALSE(truthy(Json(false)));
  EXPECT_FALSE(truthy(Json(nullptr)));
  EXPECT_FALSE(truthy(Json(0)));
  EXPECT_FALSE(truthy(Json(0.0)));
  EXPECT_FALSE(truthy(Json("")));
  EXPECT_FALSE(truthy(Json::array()));
  EXPECT_FALSE(truthy(Json::object()));
  // jsonlogic.com truthy table: everything else is truthy.
  EXPECT_TRUE(truthy(Json(true)));
  EXPECT_TRUE(truthy(Json(1)));
  EXPECT_TRUE(truthy(Json(-1)));
  EXPECT_TRUE(truthy(Json(0.5)));
  EXPECT_TRUE(truthy(Json("0")));
  EXPECT_TRUE(truthy(Json("false")));
  EXPECT_TRUE(truthy(j("[0]")));
  EXPECT_TRUE(truthy(j(R"({"a":1})")));
}

TEST(JsonLogicTruthiness, InsideOperators) {
  // The same table through "!!", "if" and "filter".
  EXPECT_TRUE(evals_to(R"({"!!":[{"var":"o"}]})", R"({"o":{}})", "false"));
  EXPECT_TRUE(evals_to(R"({"!!":[{"var":"o"}]})", R"({"o":{"a":1}})", "true"));
  EXPECT_TRUE(evals_to(R"({"!!":[[0]]})", "{}", "true"));
  EXPECT_TRUE(evals_to(R"({"if":[[],"t","f"]})", "{}", R"("f")"));
  EXPECT_TRUE(evals_to(R"({"if":[{"var":"s"},"t","f"]})", R"({"s":""})", R"("f")"));
  EXPECT_TRUE(evals_to(R"({"if":[{"var":"s"},"t","f"]})", R"({"s":"0"})", R"("t")"));
  EXPECT_TRUE(
      evals_to(R"({"filter":[[0,1,"",[],"x",null,true],{"var":""}]})", "{}", R"([1,"x",true])"));
}

TEST(JsonLogicLiterals, NonRulesEvaluateToThemselves) {
  // jsonlogic.com: values that are not rules are returned as they are.
  EXPECT_TRUE(evals_to(R"("literal")", "{}", R"("literal")"));
  EXPECT_TRUE(evals_to("5", "{}", "5"));
  EXPECT_TRUE(evals_to("true", "{}", "true"));
  EXPECT_TRUE(evals_to("null", "{}", "null"));
  EXPECT_TRUE(evals_to(R"({"if":[true,[1,2],[]]})", "{}", "[1,2]"));
}

TEST(JsonLogicCompile, UnknownOperatorIsRejected) {
  // logic.h contract ("Errors: unknown operator"); testbed error-targeting-flag.
  EXPECT_FALSE(Rule::compile(j(R"({"invalid":["this is not valid targeting"]})")).ok());
  EXPECT_FALSE(Rule::compile(j(R"({"if":[{"nosuchop":[1]},"a","b"]})")).ok());
}

TEST(JsonLogicCompile, CompiledRuleIsReusable) {
  // logic.h contract: compile once, evaluate many times against different contexts.
  auto rule = Rule::compile(j(R"({"if":[{"==":[{"var":"tier"},"gold"]},"vip","std"]})"));
  ASSERT_TRUE(rule.ok()) << rule.error().to_string();
  const Env env{"f", 0};
  auto a = rule->evaluate(j(R"({"tier":"gold"})"), env);
  auto b = rule->evaluate(j(R"({"tier":"tin"})"), env);
  auto c = rule->evaluate(Json("not an object"), env);  // behaves as {}
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, Json("vip"));
  EXPECT_EQ(*b, Json("std"));
  EXPECT_EQ(*c, Json("std"));
}

TEST(JsonLogicFlagdProperties, InjectedFromEnv) {
  // flagd-notes §2 "Injected context": $flagd.flagKey and $flagd.timestamp (Unix seconds).
  auto key = run(j(R"({"var":"$flagd.flagKey"})"), Json::object(), "my-flag", 42);
  ASSERT_TRUE(key.ok()) << key.error().to_string();
  EXPECT_EQ(*key, Json("my-flag"));
  auto ts = run(j(R"({"var":"$flagd.timestamp"})"), Json::object(), "my-flag", 1'700'000'000);
  ASSERT_TRUE(ts.ok()) << ts.error().to_string();
  EXPECT_EQ(*ts, Json(1'700'000'000));
  auto cmp = run(j(R"({">":[{"var":"$flagd.timestamp"},0]})"), Json::object(), "k", 5);
  ASSERT_TRUE(cmp.ok()) << cmp.error().to_string();
  EXPECT_EQ(*cmp, Json(true));
}

TEST(JsonLogicFlagdProperties, OverrideCallerProvided) {
  // flagd-notes §2: the injected $flagd replaces a caller-provided one.
  const Json ctx = j(R"({"$flagd":{"flagKey":"spoof","timestamp":1,"other":true}})");
  auto key = run(j(R"({"var":"$flagd.flagKey"})"), ctx, "real-flag", 99);
  ASSERT_TRUE(key.ok()) << key.error().to_string();
  EXPECT_EQ(*key, Json("real-flag"));
  auto ts = run(j(R"({"var":"$flagd.timestamp"})"), ctx, "real-flag", 99);
  ASSERT_TRUE(ts.ok()) << ts.error().to_string();
  EXPECT_EQ(*ts, Json(99));
  auto other = run(j(R"({"var":"$flagd.other"})"), ctx, "real-flag", 99);
  ASSERT_TRUE(other.ok()) << other.error().to_string();
  EXPECT_EQ(*other, Json(nullptr));
}

void collect(const Json& result, void* user) {
  *static_cast<Json*>(user) = result;
}

TEST(JsonLogicCompile, EvaluateWithMatchesEvaluate) {
  // logic.h contract: evaluate_with is the allocation-free form of evaluate.
  auto rule = Rule::compile(j(R"({"cat":[{"var":"a"},"-",{"var":"$flagd.flagKey"}]})"));
  ASSERT_TRUE(rule.ok()) << rule.error().to_string();
  const Env env{"k", 0};
  Json sunk;
  std::string error;
  ASSERT_TRUE(rule->evaluate_with(j(R"({"a":"x"})"), env, EvalLimits{}, collect, &sunk, error))
      << error;
  EXPECT_EQ(sunk, Json("x-k"));
  auto bad = Rule::compile(j(R"({"/":[1,{"var":"z"}]})"));
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->evaluate_with(j(R"({"z":0})"), env, EvalLimits{}, collect, &sunk, error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace ff::eval::test
