// Upstream answer parsers: strictness (nothing partial), mapping to the canonical answer shape,
// Retry-After, error bodies, content ETags.
#include "agent/sync/wire.h"

#include <gtest/gtest.h>

#include <string>

using ff::Json;
using namespace ff::sync;
using namespace std::chrono_literals;

namespace {
constexpr std::size_t kMax = 1 << 20;
}

// ---- OFREP bulk ----

TEST(OfrepBulk, MapsSuccessCodeDefaultAndFailureEntries) {
  auto r = parse_ofrep_bulk(R"({"flags":[
    {"key":"a","value":true,"reason":"STATIC","variant":"on","metadata":{"team":"x","n":1}},
    {"key":"b","reason":"DISABLED","metadata":{}},
    {"key":"c","errorCode":"PARSE_ERROR","errorDetails":"bad rule","metadata":{"m":true}},
    {"key":"d","value":{"x":[1,2]},"reason":"TARGETING_MATCH"},
    {"key":"e","errorCode":"GENERAL"}
  ],"metadata":{"set":"s"},"eventStreams":[{"type":"sse","url":"x"}]})",
                            kMax);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)["a"], Json::parse(
                           R"({"value":true,"reason":"STATIC","variant":"on",
                               "metadata":{"team":"x","n":1}})"));
  EXPECT_EQ((*r)["b"], Json::parse(R"({"reason":"DISABLED","metadata":{}})"));
  EXPECT_EQ((*r)["c"], Json::parse(R"({"reason":"ERROR","errorCode":"PARSE_ERROR",
                                       "errorDetails":"bad rule","metadata":{"m":true}})"));
  EXPECT_EQ((*r)["d"],
            Json::parse(R"({"value":{"x":[1,2]},"reason":"TARGETING_MATCH","metadata":{}})"));
  EXPECT_EQ((*r)["e"], Json::parse(R"({"reason":"ERROR","errorCode":"GENERAL","metadata":{}})"));
  EXPECT_EQ(r->size(), 5u);
}

TEST(OfrepBulk, NumbersStayAsSent) {
  auto r = parse_ofrep_bulk(
      R"({"flags":[{"key":"i","value":10,"reason":"STATIC"},{"key":"f","value":0.5,"reason":"STATIC"}]})",
      kMax);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)["i"]["value"].is_number_integer());
  EXPECT_EQ((*r)["i"]["value"].dump(), "10");
  EXPECT_EQ((*r)["f"]["value"].dump(), "0.5");
}

TEST(OfrepBulk, EmptyFlagsIsAnEmptyAnswer) {
  auto r = parse_ofrep_bulk(R"({"flags":[]})", kMax);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_object());
  EXPECT_TRUE(r->empty());
}

TEST(OfrepBulk, RejectsEverythingMalformedWhole) {
  const struct {
    const char* body;
    const char* path;
  } cases[] = {
      {"", ""},
      {"<<not json>>", ""},
      {"[]", ""},
      {"null", ""},
      {R"({})", ""},
      {R"({"flags":"not-an-array","metadata":{}})", "/flags"},
      {R"({"flags":{}})", "/flags"},
      {R"({"flags":[1]})", "/flags/0"},
      {R"({"flags":[{"value":true,"reason":"STATIC"}]})", "/flags/0/key"},
      {R"({"flags":[{"key":"","reason":"STATIC"}]})", "/flags/0/key"},
      {R"({"flags":[{"key":7,"reason":"STATIC"}]})", "/flags/0/key"},
      {R"({"flags":[{"key":"a","reason":"STATIC"},{"key":"a","reason":"STATIC"}]})",
       "/flags/1/key"},
      {R"({"flags":[{"key":"a","value":true,"reason":42,"variant":["x"]}]})", "/flags/0/reason"},
      {R"({"flags":[{"key":"a","value":true,"reason":"STATIC","variant":["x"]}]})",
       "/flags/0/variant"},
      {R"({"flags":[{"key":"a","value":true}]})", "/flags/0/reason"},
      {R"({"flags":[{"key":"a","value":null,"reason":"STATIC"}]})", "/flags/0/value"},
      {R"({"flags":[{"key":"a","reason":"STATIC","metadata":[]}]})", "/flags/0/metadata"},
      {R"({"flags":[{"key":"a","reason":"STATIC","metadata":{"o":{"x":1}}}]})",
       "/flags/0/metadata/o"},
      {R"({"flags":[{"key":"a","errorCode":5}]})", "/flags/0/errorCode"},
      {R"({"flags":[{"key":"a","errorCode":""}]})", "/flags/0/errorCode"},
      {R"({"flags":[{"key":"a","errorCode":"GENERAL","errorDetails":{}}]})",
       "/flags/0/errorDetails"},
      {R"({"flags":[],"metadata":"x"})", "/metadata"},
      {R"({"flags":[{"key":"ok","value":1,"reason":"STATIC"},{"key":"bad"}]})", "/flags/1/reason"},
  };
  for (const auto& c : cases) {
    auto r = parse_ofrep_bulk(c.body, kMax);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_FALSE(r.error().message.empty());
    if (r.error().code == "bad_response") {
      EXPECT_EQ(r.error().path, c.path) << c.body;
    }
  }
}

TEST(OfrepBulk, EnforcesSizeAndDepth) {
  const std::string body =
      R"({"flags":[{"key":"a","value":")" + std::string(2000, 'x') + R"(","reason":"STATIC"}]})";
  auto r = parse_ofrep_bulk(body, 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  std::string deep = R"({"flags":[{"key":"a","reason":"STATIC","value":)";
  for (int i = 0; i < 10000; ++i) deep += "[";
  r = parse_ofrep_bulk(deep, kMax);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_deep");
}

TEST(OfrepBulk, InvalidUtf8IsRejected) {
  auto r = parse_ofrep_bulk("{\"flags\":[{\"key\":\"\xff\",\"reason\":\"STATIC\"}]}", kMax);
  EXPECT_FALSE(r.ok());
}

// ---- flagd ResolveAll ----

TEST(ResolveAll, MapsEveryValueKind) {
  auto r = parse_flagd_resolve_all(R"({"flags":{
    "b":{"reason":"STATIC","variant":"on","boolValue":true,"metadata":{"set":"s"}},
    "s":{"reason":"TARGETING_MATCH","variant":"x","stringValue":"hello","metadata":{}},
    "i":{"reason":"STATIC","variant":"ten","doubleValue":10,"metadata":{}},
    "i2":{"reason":"STATIC","variant":"ten","doubleValue":10.0,"metadata":{}},
    "neg":{"reason":"STATIC","variant":"n","doubleValue":-3e3,"metadata":{}},
    "f":{"reason":"STATIC","variant":"half","doubleValue":0.5,"metadata":{}},
    "big":{"reason":"STATIC","variant":"big","doubleValue":1e300,"metadata":{}},
    "o":{"reason":"STATIC","variant":"o","objectValue":{"k":[1,"2"]},"metadata":null},
    "none":{"reason":"DEFAULT","variant":"","metadata":{}}
  },"metadata":{"set":"s"}})",
                                   kMax);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(
      (*r)["b"],
      Json::parse(R"({"value":true,"variant":"on","reason":"STATIC","metadata":{"set":"s"}})"));
  EXPECT_EQ((*r)["s"]["value"], "hello");
  EXPECT_EQ((*r)["i"]["value"].dump(), "10");
  EXPECT_EQ((*r)["i2"]["value"].dump(), "10");
  EXPECT_EQ((*r)["neg"]["value"].dump(), "-3000");
  EXPECT_EQ((*r)["f"]["value"].dump(), "0.5");
  EXPECT_TRUE((*r)["big"]["value"].is_number_float());
  EXPECT_EQ((*r)["o"], Json::parse(
                           R"({"value":{"k":[1,"2"]},"variant":"o","reason":"STATIC",
                               "metadata":{}})"));
  EXPECT_EQ((*r)["none"], Json::parse(R"({"reason":"DEFAULT","metadata":{}})"));
}

TEST(ResolveAll, ErrorAndDisabledEntriesCarryNoValue) {
  auto r = parse_flagd_resolve_all(R"({"flags":{
    "e":{"reason":"ERROR","variant":"","boolValue":false,"metadata":{}},
    "d":{"reason":"DISABLED","variant":"","stringValue":"","metadata":{}}
  },"metadata":{}})",
                                   kMax);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)["e"]["reason"], "ERROR");
  EXPECT_EQ((*r)["e"]["errorCode"], "GENERAL");
  EXPECT_FALSE((*r)["e"].contains("value"));
  EXPECT_EQ((*r)["d"], Json::parse(R"({"reason":"DISABLED","metadata":{}})"));
}

TEST(ResolveAll, RejectsWrongShapesWhole) {
  const char* cases[] = {
      "",
      "garbage",
      "[]",
      "{}",
      R"({"flags":[]})",
      R"({"flags":{"f":{"reason":7,"boolValue":"yes","metadata":[]}},"metadata":{}})",
      R"({"flags":{"f":{"reason":"STATIC","boolValue":"yes"}}})",
      R"({"flags":{"f":{"reason":"STATIC","stringValue":1}}})",
      R"({"flags":{"f":{"reason":"STATIC","doubleValue":"NaN"}}})",
      R"({"flags":{"f":{"reason":"STATIC","objectValue":[1]}}})",
      R"({"flags":{"f":{"reason":"STATIC","boolValue":true,"stringValue":"x"}}})",
      R"({"flags":{"f":{"variant":"x","boolValue":true}}})",
      R"({"flags":{"f":{"reason":"STATIC","variant":3,"boolValue":true}}})",
      R"({"flags":{"f":{"reason":"STATIC","boolValue":true,"metadata":"m"}}})",
      R"({"flags":{"f":"x"}})",
      R"({"flags":{"":{"reason":"STATIC"}}})",
      R"({"flags":{"ok":{"reason":"STATIC","boolValue":true},"bad":{"reason":1}}})",
      R"({"flags":{},"metadata":7})",
  };
  for (const char* c : cases) {
    auto r = parse_flagd_resolve_all(c, kMax);
    EXPECT_FALSE(r.ok()) << c;
  }
}

// ---- Retry-After ----

TEST(RetryAfter, Seconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_retry_after("7", now), 7s);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), 86400s);
}

TEST(RetryAfter, HttpDatesInAllThreeFormats) {
  // 1994-11-06T08:49:37Z
  const auto now = std::chrono::system_clock::from_time_t(784111777) - 30s;
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 30s);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 30s);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 30s);
  // In the past: retry now.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 1h), 0s);
  // Far future: capped.
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now), 86400s);
}

TEST(RetryAfter, Garbage) {
  const auto now = std::chrono::system_clock::now();
  for (const char* v : {"", "soon", "-5", "1.5", "7s", "Sun, 06 Nov 1994 08:49:37 PST",
                        "Sun, 06 Nov 1994 08:49:37 GMT trailing"}) {
    EXPECT_FALSE(parse_retry_after(v, now).has_value()) << v;
  }
}

// ---- error bodies ----

TEST(ErrorBody, KnownShapes) {
  EXPECT_EQ(error_body_message(R"({"errorCode":"GENERAL","errorDetails":"boom"})"),
            "GENERAL: boom");
  EXPECT_EQ(error_body_message(R"({"errorDetails":"only details"})"), "only details");
  EXPECT_EQ(error_body_message(R"({"code":"unavailable","message":"down"})"), "unavailable: down");
  EXPECT_EQ(error_body_message(R"({"error":"nope"})"), "nope");
  EXPECT_EQ(error_body_message(R"({"error":{"code":"internal","message":"m"}})"), "internal: m");
  EXPECT_EQ(error_body_message("Service Unavailable"), "Service Unavailable");
}

TEST(ErrorBody, UnusableBodiesGiveNothingAndLongOnesAreCut) {
  EXPECT_EQ(error_body_message(""), "");
  EXPECT_EQ(error_body_message("{}"), "");
  EXPECT_EQ(error_body_message("[1,2]"), "");
  EXPECT_EQ(error_body_message(std::string("bin\x00\xff", 5)), "");
  EXPECT_EQ(error_body_message(std::string(5000, 'h')), "");
  const std::string long_details = R"({"errorDetails":")" + std::string(5000, 'd') + R"("})";
  EXPECT_LE(error_body_message(long_details).size(), 310u);
  EXPECT_EQ(error_body_message(R"({"errorDetails":"a\nb\u0000c"})"), "a b c");
}

// ---- content ETags ----

TEST(ContentEtag, StableSha256) {
  EXPECT_EQ(content_etag(""),
            "ff-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(content_etag("abc"), content_etag("abc"));
  EXPECT_NE(content_etag("abc"), content_etag("abd"));
  EXPECT_TRUE(is_content_etag(content_etag("x")));
  EXPECT_FALSE(is_content_etag("\"abc\""));
  EXPECT_FALSE(is_content_etag(""));
}
