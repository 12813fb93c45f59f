// make_upstream validation, describe() and URL joining.
#include <gtest/gtest.h>

#include <string>

#include "agent/sync/upstream.h"
#include "tests/unit/sync/sync_fixture.h"

using ff::Json;
using namespace ff::sync;

namespace {

UpstreamConfig cfg(Mode mode, std::string url) {
  UpstreamConfig c;
  c.mode = mode;
  c.url = std::move(url);
  return c;
}

class BaseUrl : public test_util::ServerTest {};

}  // namespace

TEST(MakeUpstream, ModeNames) {
  EXPECT_STREQ(to_string(Mode::kOfrep), "ofrep");
  EXPECT_STREQ(to_string(Mode::kFlagd), "flagd");
  EXPECT_STREQ(to_string(Mode::kDefinitions), "definitions");
}

TEST(MakeUpstream, RejectsUnusableRemoteConfigs) {
  for (Mode m : {Mode::kOfrep, Mode::kFlagd}) {
    for (const char* url : {"", "flagd:8013", "ftp://flagd:8013", "http://",
                            "http://user:pw@flagd:8016", "http://flagd:8016/?x=1",
                            "http://flagd:8016/#f", "http://fla gd:8016", "/etc/flags.json"}) {
      auto u = make_upstream(cfg(m, url));
      ASSERT_FALSE(u.ok()) << to_string(m) << " " << url;
      EXPECT_EQ(u.error().code, "config");
      EXPECT_EQ(u.error().message.find("pw@"), std::string::npos) << u.error().message;
    }
  }
}

TEST(MakeUpstream, RejectsBadHeadersSelectorAndLimits) {
  auto c = cfg(Mode::kOfrep, "http://127.0.0.1:8016");
  c.headers = {{"Bad Name", "v"}};
  EXPECT_FALSE(make_upstream(c).ok());
  c.headers = {{"X-Ok", "a\r\nInjected: 1"}};
  EXPECT_FALSE(make_upstream(c).ok());
  c.headers = {{"X-Ok", "fine value"}};
  EXPECT_TRUE(make_upstream(c).ok());
  c.selector = "a\nb";
  EXPECT_FALSE(make_upstream(c).ok());
  c.selector = "";
  c.timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(make_upstream(c).ok());
  c.timeout = std::chrono::milliseconds(1000);
  c.max_body = 0;
  EXPECT_FALSE(make_upstream(c).ok());
}

TEST(MakeUpstream, DefinitionsSources) {
  EXPECT_TRUE(make_upstream(cfg(Mode::kDefinitions, "/etc/fleetflag/flags.json")).ok());
  EXPECT_TRUE(make_upstream(cfg(Mode::kDefinitions, "relative/flags.json")).ok());
  EXPECT_TRUE(make_upstream(cfg(Mode::kDefinitions, "file:///etc/flags.json")).ok());
  EXPECT_TRUE(make_upstream(cfg(Mode::kDefinitions, "https://cfg.internal/flags.json?v=1")).ok());
  EXPECT_FALSE(make_upstream(cfg(Mode::kDefinitions, "s3://bucket/flags.json")).ok());
  EXPECT_FALSE(make_upstream(cfg(Mode::kDefinitions, "")).ok());
  EXPECT_FALSE(make_upstream(cfg(Mode::kDefinitions, "http://u:p@h/flags.json")).ok());
}

TEST(MakeUpstream, DescribeNeverShowsQueryOrCredentials) {
  auto u = make_upstream(cfg(Mode::kDefinitions, "https://cfg.internal:8443/f.json?token=SECRET"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)->describe(), "definitions https://cfg.internal:8443/f.json");
  auto o = make_upstream(cfg(Mode::kOfrep, "http://flagd:8016/"));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ((*o)->describe(), "ofrep http://flagd:8016/");
  auto f = make_upstream(cfg(Mode::kFlagd, "HTTPS://flagd:8013"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->describe(), "flagd HTTPS://flagd:8013");
}

TEST_F(BaseUrl, TrailingSlashesAndPathPrefixesJoin) {
  auto c = config(Mode::kOfrep);
  c.url = server_.url() + "//";
  auto up = make(c);
  ASSERT_TRUE(up->fetch(Json::object(), "").ok);
  EXPECT_EQ(server_.request_count("/ofrep/v1/evaluate/flags"), 1);

  c = config(Mode::kFlagd);
  c.url = server_.url() + "/";
  up = make(c);
  ASSERT_TRUE(up->fetch(Json::object(), "").ok);
  EXPECT_EQ(server_.request_count("/flagd.evaluation.v1.Service/ResolveAll"), 1);
}
