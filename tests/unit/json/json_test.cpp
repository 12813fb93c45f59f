#include "common/json/json.h"

#include <gtest/gtest.h>

#include <string>

using ff::Json;
namespace json = ff::json;

TEST(Parse, AcceptsValidJson) {
  auto r = json::parse(R"({"a":[1,2,{"b":null}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["a"][2]["b"], nullptr);
}

TEST(Parse, RejectsMalformedWithoutThrowing) {
  auto r = json::parse(R"({"a":)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_json");
  EXPECT_FALSE(r.error().message.empty());
}

TEST(Parse, NumberOverflowIsAnErrorNotAnException) {
  auto r = json::parse("[1e400]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_json");
}

TEST(Parse, EnforcesByteLimit) {
  json::Limits l;
  l.max_bytes = 8;
  auto r = json::parse(R"({"abc":12345})", l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(Parse, EnforcesDepthLimitBeforeParsing) {
  std::string deep(100000, '[');
  auto r = json::parse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_deep");
}

TEST(NestingDepth, IgnoresBracketsInsideStrings) {
  EXPECT_EQ(json::nesting_depth(R"({"a":"[[[[{{{{\"]]]"})", 64), 1u);
  EXPECT_EQ(json::nesting_depth(R"([[1],[[2]]])", 64), 3u);
  EXPECT_EQ(json::nesting_depth("42", 64), 0u);
}

TEST(PointerToken, EscapesTildeAndSlash) {
  EXPECT_EQ(json::pointer_token("a/b~c"), "a~1b~0c");
}

// ECMAScript Number::toString: integers print without a fraction, plain notation between
// 1e-7 and 1e21, exponent notation outside.
TEST(JsNumberString, MatchesJavaScript) {
  EXPECT_EQ(json::js_number_string(1.0), "1");
  EXPECT_EQ(json::js_number_string(-0.0), "0");
  EXPECT_EQ(json::js_number_string(0.5), "0.5");
  EXPECT_EQ(json::js_number_string(1.5e-5), "0.000015");
  EXPECT_EQ(json::js_number_string(1e21), "1e+21");
  EXPECT_EQ(json::js_number_string(1e-7), "1e-7");
  EXPECT_EQ(json::js_number_string(123456789012.0), "123456789012");
}

TEST(VariantName, StringifiesLikeFlagd) {
  EXPECT_EQ(json::variant_name(Json(true)), "true");
  EXPECT_EQ(json::variant_name(Json(false)), "false");
  EXPECT_EQ(json::variant_name(Json(1)), "1");
  EXPECT_EQ(json::variant_name(Json(2.0)), "2");
  EXPECT_EQ(json::variant_name(Json("on")), "on");
}
