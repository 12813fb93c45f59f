#include "agent/api/http_util.h"

#include <gtest/gtest.h>

namespace ff::api {
namespace {

using std::chrono::milliseconds;

TEST(PercentDecode, DecodesAndRejectsMalformedEscapes) {
  EXPECT_EQ(percent_decode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%e2%9c%93", false), "\xe2\x9c\x93");
  EXPECT_FALSE(percent_decode("%", false));
  EXPECT_FALSE(percent_decode("a%4", false));
  EXPECT_FALSE(percent_decode("%zz", false));
  EXPECT_EQ(percent_decode("%00", false), std::string(1, '\0'));
}

TEST(ParseTarget, SplitsPathAndQuery) {
  auto t = parse_target("/v1/flags?index=3&wait=10s&flag&x=a%26b");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/v1/flags");
  ASSERT_EQ(t->query.size(), 4u);
  EXPECT_EQ(query_param(*t, "index"), "3");
  EXPECT_EQ(query_param(*t, "wait"), "10s");
  EXPECT_EQ(query_param(*t, "flag"), "");
  EXPECT_EQ(query_param(*t, "x"), "a&b");
  EXPECT_FALSE(query_param(*t, "missing"));
}

TEST(ParseTarget, AbsoluteFormAndRejects) {
  auto t = parse_target("http://localhost:8080/v1/status?a=1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/v1/status");
  EXPECT_EQ(query_param(*t, "a"), "1");
  t = parse_target("http://localhost");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/");
  t = parse_target("http://localhost?x=1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(query_param(*t, "x"), "1");
  EXPECT_FALSE(parse_target(""));
  EXPECT_FALSE(parse_target("*"));
  EXPECT_FALSE(parse_target("v1/flags"));
  EXPECT_FALSE(parse_target("/v1/flags?index=%zz"));
}

TEST(ParseWait, UnitsAndLimits) {
  EXPECT_EQ(parse_wait("30s"), milliseconds(30000));
  EXPECT_EQ(parse_wait("30"), milliseconds(30000));
  EXPECT_EQ(parse_wait("500ms"), milliseconds(500));
  EXPECT_EQ(parse_wait("2m"), milliseconds(120000));
  EXPECT_EQ(parse_wait("1h"), milliseconds(3600000));
  EXPECT_EQ(parse_wait("0"), milliseconds(0));
  EXPECT_EQ(parse_wait("24h"), milliseconds(86400000));
  EXPECT_FALSE(parse_wait("25h"));
  EXPECT_FALSE(parse_wait(""));
  EXPECT_FALSE(parse_wait("s"));
  EXPECT_FALSE(parse_wait("-1s"));
  EXPECT_FALSE(parse_wait("1.5s"));
  EXPECT_FALSE(parse_wait("10x"));
  EXPECT_FALSE(parse_wait(" 10s"));
  EXPECT_FALSE(parse_wait("99999999999999999999"));
}

TEST(ParseIndex, DigitsOnlyAndRange) {
  EXPECT_EQ(parse_index("0"), 0u);
  EXPECT_EQ(parse_index("18446744073709551615"), 18446744073709551615ull);
  EXPECT_FALSE(parse_index("18446744073709551616"));
  EXPECT_FALSE(parse_index("-1"));
  EXPECT_FALSE(parse_index("+1"));
  EXPECT_FALSE(parse_index(""));
  EXPECT_FALSE(parse_index("1a"));
}

TEST(Rfc3339, FormatsUtcWithMillis) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_utc(1'764'400'000'123), "2025-11-29T07:06:40.123Z");
  EXPECT_EQ(rfc3339_utc(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Etag, StrongQuotedAndBodySensitive) {
  const auto a = strong_etag(R"({"flags":[]})");
  EXPECT_EQ(a.size(), 34u);
  EXPECT_EQ(a.front(), '"');
  EXPECT_EQ(a.back(), '"');
  EXPECT_EQ(a, strong_etag(R"({"flags":[]})"));
  EXPECT_NE(a, strong_etag(R"({"flags":[1]})"));
  EXPECT_NE(strong_etag("ab"), strong_etag("ba"));
  EXPECT_NE(strong_etag(""), strong_etag(std::string(1, '\0')));
}

TEST(IfNoneMatch, ListsWeakAndStar) {
  const std::string tag = "\"abc\"";
  EXPECT_TRUE(if_none_match_matches("\"abc\"", tag));
  EXPECT_TRUE(if_none_match_matches("W/\"abc\"", tag));
  EXPECT_TRUE(if_none_match_matches("\"x\", \"abc\"", tag));
  EXPECT_TRUE(if_none_match_matches(" * ", tag));
  EXPECT_TRUE(if_none_match_matches("\"a,b\", \"abc\"", tag));
  EXPECT_FALSE(if_none_match_matches("\"a,b\"", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("abc", tag));
  EXPECT_FALSE(if_none_match_matches("\"abcd\"", tag));
  EXPECT_FALSE(if_none_match_matches("", tag));
}

TEST(FindHeader, CaseInsensitiveFirstMatch) {
  HeaderList h = {{"Content-Type", "a"}, {"content-type", "b"}, {"X", "c"}};
  EXPECT_EQ(find_header(h, "CONTENT-TYPE"), "a");
  EXPECT_EQ(find_header(h, "x"), "c");
  EXPECT_FALSE(find_header(h, "y"));
}

}  // namespace
}  // namespace ff::api
