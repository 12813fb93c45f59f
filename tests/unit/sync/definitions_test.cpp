// Definitions upstream: files (path and file:// URLs) and HTTP(S) documents.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "agent/sync/upstream.h"
#include "agent/sync/wire.h"
#include "tests/unit/http/script_server.h"
#include "tests/unit/sync/sync_fixture.h"

using ff::Json;
using namespace ff::sync;
using namespace std::chrono_literals;

namespace {

const char* kSmall =
    R"({"flags":{"a":{"state":"ENABLED","variants":{"on":true},"defaultVariant":"on"}}})";
const char* kSmall2 =
    R"({"flags":{"a":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}}})";

UpstreamConfig file_config(const std::string& url) {
  UpstreamConfig c;
  c.mode = Mode::kDefinitions;
  c.url = url;
  return c;
}

std::unique_ptr<Upstream> make_ok(const UpstreamConfig& c) {
  auto u = make_upstream(c);
  EXPECT_TRUE(u.ok()) << u.error().to_string();
  return u.ok() ? std::move(*u) : nullptr;
}

class DefinitionsFile : public ::testing::Test {
 protected:
  ff::testing::TempDir dir_;
};

class DefinitionsHttp : public test_util::ServerTest {
 protected:
  UpstreamConfig http_config() const {
    auto c = config(Mode::kDefinitions);
    c.url = server_.url() + "/flags.json";
    return c;
  }
};

}  // namespace

TEST_F(DefinitionsFile, ReadsAndDetectsChanges) {
  const std::string path = dir_.write("flags.json", kSmall);
  auto up = make_ok(file_config(path));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->mode(), Mode::kDefinitions);
  EXPECT_EQ(up->describe(), "definitions file " + path);

  auto out = up->fetch(Json::object(), "");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_TRUE(out.fetched.definitions.has_value());
  EXPECT_EQ(*out.fetched.definitions, kSmall);
  EXPECT_FALSE(out.fetched.evaluations.has_value());
  EXPECT_EQ(out.fetched.etag, content_etag(kSmall));

  auto same = up->fetch(Json::object(), out.fetched.etag);
  ASSERT_TRUE(same.ok);
  EXPECT_TRUE(same.fetched.not_modified);
  EXPECT_FALSE(same.fetched.definitions.has_value());
  EXPECT_EQ(same.fetched.etag, out.fetched.etag);

  dir_.write("flags.json", kSmall2);
  auto changed = up->fetch(Json::object(), out.fetched.etag);
  ASSERT_TRUE(changed.ok) << changed.error.message;
  ASSERT_TRUE(changed.fetched.definitions.has_value());
  EXPECT_EQ(*changed.fetched.definitions, kSmall2);

  // Rewritten with identical bytes (new mtime): still not modified, by content.
  dir_.write("flags.json", kSmall2);
  auto rewritten = up->fetch(Json::object(), changed.fetched.etag);
  ASSERT_TRUE(rewritten.ok);
  EXPECT_TRUE(rewritten.fetched.not_modified);

  // An ETag from elsewhere (e.g. a previous run's cache) for the same content.
  auto fresh = make_ok(file_config(path));
  auto cached = fresh->fetch(Json::object(), content_etag(kSmall2));
  ASSERT_TRUE(cached.ok);
  EXPECT_TRUE(cached.fetched.not_modified);
}

TEST_F(DefinitionsFile, ReplacedByRenameIsSeen) {
  const std::string path = dir_.write("flags.json", kSmall);
  auto up = make_ok(file_config(path));
  auto out = up->fetch(Json::object(), "");
  ASSERT_TRUE(out.ok);
  const std::string tmp = dir_.write("flags.json.tmp", kSmall2);
  ASSERT_EQ(::rename(tmp.c_str(), path.c_str()), 0);
  auto next = up->fetch(Json::object(), out.fetched.etag);
  ASSERT_TRUE(next.ok);
  ASSERT_TRUE(next.fetched.definitions.has_value());
  EXPECT_EQ(*next.fetched.definitions, kSmall2);
}

TEST_F(DefinitionsFile, FileUrls) {
  const std::string path = dir_.write("my flags.json", kSmall);
  for (const std::string& url : {"file://" + dir_.path() + "/my%20flags.json",
                                 "file://localhost" + dir_.path() + "/my%20flags.json",
                                 "FILE://" + dir_.path() + "/my flags.json"}) {
    auto up = make_ok(file_config(url));
    ASSERT_TRUE(up) << url;
    auto out = up->fetch(Json::object(), "");
    ASSERT_TRUE(out.ok) << url << ": " << out.error.message;
    EXPECT_EQ(*out.fetched.definitions, kSmall);
  }
  EXPECT_FALSE(make_upstream(file_config("file://relative/x.json")).ok());
  EXPECT_FALSE(make_upstream(file_config("file://")).ok());
  EXPECT_FALSE(make_upstream(file_config("file:///a%00b.json")).ok());
}

TEST_F(DefinitionsFile, BrokenDocumentsAreRefusedWhole) {
  const std::string path = dir_.file("flags.json");
  auto up = make_ok(file_config(path));
  for (const char* text :
       {"not json", "[]", R"({"nope":1})",
        R"({"flags":{"a":{"variants":{"on":true},"defaultVariant":"off"}}})",
        R"({"flags":{"a":"x"}})", "{\"flags\":{\"a\":{\"variants\":{\"\xff\":1}}}}"}) {
    dir_.write("flags.json", text);
    auto out = up->fetch(Json::object(), "");
    EXPECT_FALSE(out.ok) << text;
    EXPECT_FALSE(out.fetched.definitions.has_value());
    EXPECT_NE(out.error.message.find(path), std::string::npos) << out.error.message;
    EXPECT_NE(out.error.message.find("refused"), std::string::npos) << out.error.message;
  }
  dir_.write("flags.json", kSmall);
  EXPECT_TRUE(up->fetch(Json::object(), "").ok);
}

TEST_F(DefinitionsFile, EmptyMissingHugeDirectoryAndFifo) {
  auto c = file_config(dir_.file("flags.json"));
  c.max_body = 1000;
  auto up = make_ok(c);

  auto out = up->fetch(Json::object(), "");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.message.find("No such file"), std::string::npos) << out.error.message;

  dir_.write("flags.json", " \n");
  out = up->fetch(Json::object(), "");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.message.find("empty"), std::string::npos) << out.error.message;

  dir_.write("flags.json", std::string(R"({"flags":{}, "pad":")") + std::string(2000, 'x') + "\"}");
  out = up->fetch(Json::object(), "");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.message.find("larger"), std::string::npos) << out.error.message;

  ASSERT_EQ(::mkdir(dir_.file("dir.json").c_str(), 0700), 0);
  auto dir_up = make_ok(file_config(dir_.file("dir.json")));
  out = dir_up->fetch(Json::object(), "");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.message.find("regular"), std::string::npos) << out.error.message;

  ASSERT_EQ(::mkfifo(dir_.file("fifo.json").c_str(), 0600), 0);
  auto fifo_up = make_ok(file_config(dir_.file("fifo.json")));
  out = fifo_up->fetch(Json::object(), "");  // must not block
  EXPECT_FALSE(out.ok);
}

TEST_F(DefinitionsFile, YamlIsNotSupportedYet) {
  for (const char* url :
       {"/etc/fleetflag/flags.yaml", "/x/flags.YML", "http://127.0.0.1:1/flags.yaml?x=1"}) {
    auto u = make_upstream(file_config(url));
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_NE(u.error().message.find("YAML"), std::string::npos) << u.error().message;
  }
}

TEST_F(DefinitionsHttp, FetchesAndHonoursEtag) {
  auto up = make(http_config());
  ASSERT_TRUE(up);
  auto out = up->fetch(Json::object(), "");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_TRUE(out.fetched.definitions.has_value());
  EXPECT_EQ(*out.fetched.definitions, test_util::kFlags);
  EXPECT_FALSE(is_content_etag(out.fetched.etag));
  Json req = last("/flags.json");
  EXPECT_EQ(req["method"], "GET");
  EXPECT_EQ(req["headers"]["accept"], "application/json");

  auto again = up->fetch(Json::object(), out.fetched.etag);
  ASSERT_TRUE(again.ok) << again.error.message;
  EXPECT_TRUE(again.fetched.not_modified);
  EXPECT_EQ(last("/flags.json")["headers"]["if-none-match"], out.fetched.etag);

  ASSERT_TRUE(server_.set_flags(kSmall).ok());
  auto changed = up->fetch(Json::object(), out.fetched.etag);
  ASSERT_TRUE(changed.ok) << changed.error.message;
  EXPECT_EQ(*changed.fetched.definitions, kSmall);
}

TEST_F(DefinitionsHttp, BrokenDocumentIsRefused) {
  auto up = make(http_config());
  ASSERT_TRUE(
      server_.set_flags_raw(R"({"flags":{"a":{"variants":{},"defaultVariant":"x"}}})").ok());
  auto out = up->fetch(Json::object(), "");
  expect_failed_without_data(out);
  EXPECT_NE(out.error.message.find("refused"), std::string::npos) << out.error.message;
  EXPECT_EQ(out.error.http_status, 200);
}

TEST_F(DefinitionsHttp, ErrorsCarryStatusAuthAndRetryAfter) {
  auto c = http_config();
  c.max_body = 1u << 20;
  auto up = make(c);
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":503,"retryAfter":9})").ok());
  auto out = up->fetch(Json::object(), "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.http_status, 503);
  EXPECT_EQ(out.error.retry_after.value_or(0s), 9s);
  EXPECT_NE(out.error.message.find("injected status 503"), std::string::npos);

  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":401})").ok());
  out = up->fetch(Json::object(), "");
  EXPECT_TRUE(out.error.auth);

  for (const char* mode :
       {R"({"mode":"garbage"})", R"({"mode":"wrongtype"})", R"({"mode":"truncate"})",
        R"({"mode":"huge","hugeBytes":4194304})", R"({"mode":"down"})"}) {
    ASSERT_TRUE(server_.set_mode(mode).ok());
    out = up->fetch(Json::object(), "");
    expect_failed_without_data(out);
  }
}

TEST(DefinitionsHttpScripted, WithoutServerEtagUsesContentEtag) {
  ff::testing::ScriptServer srv([](ff::testing::ScriptConn& c) {
    if (!c.read_request()) return;
    c.send(ff::testing::simple_response(200, kSmall, "Content-Type: application/json\r\n"));
  });
  auto c = file_config(srv.url("/defs"));
  auto up = make_ok(c);
  auto out = up->fetch(Json::object(), "");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(out.fetched.etag, content_etag(kSmall));
  auto again = up->fetch(Json::object(), out.fetched.etag);
  ASSERT_TRUE(again.ok);
  EXPECT_TRUE(again.fetched.not_modified);
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].headers.count("if-none-match"), 0u);
}

TEST(DefinitionsHttpScripted, YamlContentTypeAndStray304AreErrors) {
  ff::testing::ScriptServer yaml([](ff::testing::ScriptConn& c) {
    if (!c.read_request()) return;
    c.send(ff::testing::simple_response(200, "flags: {}\n", "Content-Type: application/yaml\r\n"));
  });
  auto out = make_ok(file_config(yaml.url("/defs")))->fetch(Json::object(), "");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.message.find("YAML"), std::string::npos) << out.error.message;

  ff::testing::ScriptServer stray([](ff::testing::ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 304 Not Modified\r\n\r\n");
  });
  out = make_ok(file_config(stray.url("/defs")))->fetch(Json::object(), "");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error.http_status, 304);
}
