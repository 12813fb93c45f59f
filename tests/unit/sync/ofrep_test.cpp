// OFREP upstream end to end against the node flagd test server.
#include <gtest/gtest.h>

#include <string>

#include "agent/sync/upstream.h"
#include "agent/sync/wire.h"
#include "tests/unit/sync/sync_fixture.h"

using ff::Json;
using namespace ff::sync;
using namespace std::chrono_literals;

namespace {

const std::string kPath = "/ofrep/v1/evaluate/flags";
const Json kContext = Json::parse(R"({"targetingKey":"host-1","env":"prod"})");

class Ofrep : public test_util::ServerTest {};

}  // namespace

TEST_F(Ofrep, ValuesEndToEnd) {
  auto up = make(config(Mode::kOfrep));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->mode(), Mode::kOfrep);
  auto out = up->fetch(kContext, "");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_TRUE(out.fetched.evaluations.has_value());
  const Json& ev = *out.fetched.evaluations;
  const Json meta = {{"flagSetId", "fleet"}};
  EXPECT_EQ(ev["bool-flag"],
            (Json{{"value", true}, {"variant", "on"}, {"reason", "STATIC"}, {"metadata", meta}}));
  EXPECT_EQ(ev["str-flag"]["value"], "beta");
  EXPECT_EQ(ev["str-flag"]["reason"], "TARGETING_MATCH");
  EXPECT_EQ(ev["int-flag"]["value"].dump(), "10");
  EXPECT_EQ(ev["float-flag"]["value"].dump(), "0.5");
  EXPECT_EQ(ev["obj-flag"]["value"], Json::parse(R"({"x":1,"s":"v"})"));
  EXPECT_EQ(ev["obj-flag"]["metadata"], Json::parse(R"({"flagSetId":"fleet","owner":"ops"})"));
  EXPECT_EQ(ev["off-flag"], (Json{{"reason", "DISABLED"}, {"metadata", meta}}));
  EXPECT_EQ(ev.size(), 6u);
  EXPECT_FALSE(out.fetched.not_modified);
  EXPECT_FALSE(out.fetched.etag.empty());
  EXPECT_FALSE(is_content_etag(out.fetched.etag));  // the server's own

  const Json req = last(kPath);
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["headers"]["content-type"], "application/json");
  EXPECT_EQ(req["headers"]["accept"], "application/json");
  EXPECT_FALSE(req["headers"].contains("if-none-match"));
  EXPECT_EQ(req["body"], (Json{{"context", kContext}}));
}

TEST_F(Ofrep, NullContextIsSentAsEmptyObject) {
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(Json(), "");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(last(kPath)["body"], Json::parse(R"({"context":{}})"));
  EXPECT_EQ((*out.fetched.evaluations)["str-flag"]["value"], "alpha");
}

TEST_F(Ofrep, EtagGivesNotModifiedUntilFlagsChange) {
  auto up = make(config(Mode::kOfrep));
  auto first = up->fetch(kContext, "");
  ASSERT_TRUE(first.ok) << first.error.message;
  const std::string etag = first.fetched.etag;

  auto second = up->fetch(kContext, etag);
  ASSERT_TRUE(second.ok) << second.error.message;
  EXPECT_TRUE(second.fetched.not_modified);
  EXPECT_FALSE(second.fetched.evaluations.has_value());
  EXPECT_EQ(second.fetched.etag, etag);
  EXPECT_EQ(last(kPath)["headers"]["if-none-match"], etag);

  std::string changed = test_util::kFlags;
  changed.replace(changed.find("\"defaultVariant\": \"on\""), 22, "\"defaultVariant\": \"off\"");
  ASSERT_TRUE(server_.set_flags(changed).ok());
  auto third = up->fetch(kContext, etag);
  ASSERT_TRUE(third.ok) << third.error.message;
  EXPECT_FALSE(third.fetched.not_modified);
  ASSERT_TRUE(third.fetched.evaluations.has_value());
  EXPECT_EQ((*third.fetched.evaluations)["bool-flag"]["value"], false);
  EXPECT_NE(third.fetched.etag, etag);
}

TEST_F(Ofrep, ContentEtagsAreNeverSent) {
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(kContext, content_etag("whatever"));
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_FALSE(last(kPath)["headers"].contains("if-none-match"));
}

TEST_F(Ofrep, SelectorExtraHeadersAndRotatingBearerToken) {
  auto c = config(Mode::kOfrep);
  c.selector = "source=fleet";
  c.headers = {{"X-Fleet", "eu-1"}};
  c.bearer_token_file = dir_.write("token", "  first-token \n");
  ASSERT_TRUE(server_.set_auth_token("first-token").ok());
  auto up = make(c);
  auto out = up->fetch(kContext, "");
  ASSERT_TRUE(out.ok) << out.error.message;
  Json h = last(kPath)["headers"];
  EXPECT_EQ(h["flagd-selector"], "source=fleet");
  EXPECT_EQ(h["x-fleet"], "eu-1");
  EXPECT_EQ(h["authorization"], "Bearer first-token");

  // Rotated on disk: picked up by the next fetch without rebuilding the upstream.
  dir_.write("token", "second-token");
  ASSERT_TRUE(server_.set_auth_token("second-token").ok());
  out = up->fetch(kContext, "");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(last(kPath)["headers"]["authorization"], "Bearer second-token");
}

TEST_F(Ofrep, UnauthorizedIsAnAuthErrorThatNeverShowsTheToken) {
  ASSERT_TRUE(server_.set_auth_token("right").ok());
  auto c = config(Mode::kOfrep);
  c.bearer_token_file = dir_.write("token", "topsecret-wrong");
  auto up = make(c);
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_TRUE(out.error.auth);
  EXPECT_EQ(out.error.http_status, 401);
  EXPECT_NE(out.error.message.find("unauthorized"), std::string::npos) << out.error.message;
  EXPECT_EQ(out.error.message.find("topsecret"), std::string::npos) << out.error.message;
  EXPECT_FALSE(out.error.retry_after.has_value());
}

TEST_F(Ofrep, ForbiddenIsAnAuthError) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":403})").ok());
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_TRUE(out.error.auth);
  EXPECT_EQ(out.error.http_status, 403);
}

TEST_F(Ofrep, UnreadableTokenFileIsReportedPerFetchWithThePath) {
  auto c = config(Mode::kOfrep);
  c.bearer_token_file = dir_.file("no-such-token");
  auto up = make(c);  // not a config error: the file may appear later
  ASSERT_TRUE(up);
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_TRUE(out.error.auth);
  EXPECT_NE(out.error.message.find(c.bearer_token_file), std::string::npos) << out.error.message;
  EXPECT_EQ(server_.request_count(kPath), 0);

  dir_.write("no-such-token", "   \n");
  out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_NE(out.error.message.find("empty"), std::string::npos) << out.error.message;

  dir_.write("no-such-token", "two words");
  out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.message.find("two words"), std::string::npos) << out.error.message;

  dir_.write("no-such-token", "ok-now");
  out = up->fetch(kContext, "");
  EXPECT_TRUE(out.ok) << out.error.message;
}

TEST_F(Ofrep, RateLimitCarriesRetryAfter) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":429,"retryAfter":3})").ok());
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.http_status, 429);
  EXPECT_FALSE(out.error.auth);
  ASSERT_TRUE(out.error.retry_after.has_value());
  EXPECT_EQ(*out.error.retry_after, 3s);

  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":503,"retryAfter":11})").ok());
  out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.http_status, 503);
  EXPECT_EQ(out.error.retry_after.value_or(0s), 11s);
}

TEST_F(Ofrep, ServerErrorMessageComesFromTheBody) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":500})").ok());
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.http_status, 500);
  EXPECT_FALSE(out.error.retry_after.has_value());
  EXPECT_NE(out.error.message.find("injected status 500"), std::string::npos) << out.error.message;
  EXPECT_NE(out.error.message.find("HTTP 500"), std::string::npos) << out.error.message;
}

TEST_F(Ofrep, BadContextIsA400WithTheServersReason) {
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(Json::array({1, 2}), "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.http_status, 400);
  EXPECT_NE(out.error.message.find("INVALID_CONTEXT"), std::string::npos) << out.error.message;
}

TEST_F(Ofrep, UnusableAnswersAreErrorsNeverPartial) {
  auto c = config(Mode::kOfrep);
  c.max_body = 1u << 20;
  c.timeout = 3000ms;
  auto up = make(c);
  const struct {
    const char* mode;
    const char* expect;  // substring of the message
  } cases[] = {
      {R"({"mode":"garbage"})", "unusable"},
      {R"({"mode":"wrongtype"})", "flags is not an array"},
      {R"({"mode":"truncate"})", "truncated"},
      {R"({"mode":"huge","hugeBytes":4194304})", "too_large"},
      {R"({"mode":"huge","hugeBytes":4194304,"contentLength":true})", "too_large"},
      {R"({"mode":"down"})", "io"},
  };
  for (const auto& k : cases) {
    ASSERT_TRUE(server_.set_mode(k.mode).ok()) << k.mode;
    auto out = up->fetch(kContext, "");
    expect_failed_without_data(out);
    EXPECT_NE(out.error.message.find(k.expect), std::string::npos)
        << k.mode << ": " << out.error.message;
    EXPECT_FALSE(out.error.auth);
  }
  ASSERT_TRUE(server_.set_mode(R"({"mode":"normal"})").ok());
  EXPECT_TRUE(up->fetch(kContext, "").ok);
}

TEST_F(Ofrep, SlowServerTimesOut) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"slow","delayMs":3000})").ok());
  auto c = config(Mode::kOfrep);
  c.timeout = 300ms;
  auto up = make(c);
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_NE(out.error.message.find("timeout"), std::string::npos) << out.error.message;
  EXPECT_EQ(out.error.http_status, 0);
}

TEST_F(Ofrep, FailsOnceThenRecovers) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":502,"times":1})").ok());
  auto up = make(config(Mode::kOfrep));
  auto out = up->fetch(kContext, "");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error.http_status, 502);
  out = up->fetch(kContext, "");
  EXPECT_TRUE(out.ok) << out.error.message;
}

TEST_F(Ofrep, ServerGoneIsAConnectError) {
  auto up = make(config(Mode::kOfrep));
  server_.kill9();
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_NE(out.error.message.find("connect"), std::string::npos) << out.error.message;
}
