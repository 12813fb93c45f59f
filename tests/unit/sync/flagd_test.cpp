// flagd Connect/JSON upstream (ResolveAll) and EventStream against the node flagd test server.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/sync/connect_envelope.h"
#include "agent/sync/upstream.h"
#include "agent/sync/wire.h"
#include "tests/unit/http/script_server.h"
#include "tests/unit/sync/sync_fixture.h"

using ff::Json;
using namespace ff::sync;
using namespace std::chrono_literals;

namespace {

const std::string kResolveAll = "/flagd.evaluation.v1.Service/ResolveAll";
const std::string kEventStream = "/flagd.evaluation.v1.Service/EventStream";
const Json kContext = Json::parse(R"({"targetingKey":"host-1","env":"prod"})");

class Flagd : public test_util::ServerTest {};

// Runs run_event_stream on a thread and records the events.
class StreamRunner {
 public:
  explicit StreamRunner(UpstreamConfig config) : config_(std::move(config)) {
    thread_ = std::thread([this] {
      FetchError e = run_event_stream(config_, cancel_, [this](const std::string& type) {
        std::lock_guard<std::mutex> l(mu_);
        events_.push_back(type);
        cv_.notify_all();
      });
      std::lock_guard<std::mutex> l(mu_);
      result_ = std::move(e);
      done_ = true;
      cv_.notify_all();
    });
  }
  ~StreamRunner() {
    cancel_ = true;
    thread_.join();
  }

  // Waits (up to 20 s) until `n` events of `type` were seen.
  bool wait_for(const std::string& type, int n = 1) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, 20s,
                        [&] { return std::count(events_.begin(), events_.end(), type) >= n; });
  }
  // Waits (up to 20 s) for run_event_stream to return.
  std::optional<FetchError> wait_done() {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, 20s, [&] { return done_; })) return std::nullopt;
    return result_;
  }
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  void cancel() { cancel_ = true; }

 private:
  UpstreamConfig config_;
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
  FetchError result_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

TEST_F(Flagd, ResolveAllValuesEndToEnd) {
  auto up = make(config(Mode::kFlagd));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->mode(), Mode::kFlagd);
  auto out = up->fetch(kContext, "");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_TRUE(out.fetched.evaluations.has_value());
  const Json& ev = *out.fetched.evaluations;
  const Json meta = {{"flagSetId", "fleet"}};
  EXPECT_EQ(ev["bool-flag"],
            (Json{{"value", true}, {"variant", "on"}, {"reason", "STATIC"}, {"metadata", meta}}));
  EXPECT_EQ(ev["str-flag"]["value"], "beta");
  EXPECT_EQ(ev["str-flag"]["variant"], "b");
  EXPECT_EQ(ev["str-flag"]["reason"], "TARGETING_MATCH");
  // Integers come back as doubleValue 10 and are mapped to a JSON integer.
  EXPECT_TRUE(ev["int-flag"]["value"].is_number_integer());
  EXPECT_EQ(ev["int-flag"]["value"].dump(), "10");
  EXPECT_EQ(ev["float-flag"]["value"].dump(), "0.5");
  EXPECT_EQ(ev["obj-flag"]["value"], Json::parse(R"({"x":1,"s":"v"})"));
  EXPECT_EQ(ev["obj-flag"]["metadata"], Json::parse(R"({"flagSetId":"fleet","owner":"ops"})"));
  EXPECT_FALSE(ev.contains("off-flag"));  // flagd v1 skips disabled flags
  EXPECT_TRUE(is_content_etag(out.fetched.etag));

  const Json req = last(kResolveAll);
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["headers"]["content-type"], "application/json");
  EXPECT_EQ(req["headers"]["connect-protocol-version"], "1");
  EXPECT_EQ(req["headers"]["connect-timeout-ms"], "5000");
  EXPECT_EQ(req["body"], (Json{{"context", kContext}}));
}

TEST_F(Flagd, SameAnswersAreNotModified) {
  auto up = make(config(Mode::kFlagd));
  auto first = up->fetch(kContext, "");
  ASSERT_TRUE(first.ok) << first.error.message;
  auto second = up->fetch(kContext, first.fetched.etag);
  ASSERT_TRUE(second.ok) << second.error.message;
  EXPECT_TRUE(second.fetched.not_modified);
  EXPECT_FALSE(second.fetched.evaluations.has_value());
  EXPECT_EQ(second.fetched.etag, first.fetched.etag);
  EXPECT_FALSE(last(kResolveAll)["headers"].contains("if-none-match"));

  // Another context with other answers is modified.
  auto other = up->fetch(Json{{"targetingKey", "host-2"}}, first.fetched.etag);
  ASSERT_TRUE(other.ok);
  EXPECT_FALSE(other.fetched.not_modified);
  EXPECT_EQ((*other.fetched.evaluations)["str-flag"]["value"], "alpha");
}

TEST_F(Flagd, ConnectErrorsKeepStatusAndMessage) {
  auto up = make(config(Mode::kFlagd));
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":503,"retryAfter":4})").ok());
  auto out = up->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_EQ(out.error.http_status, 503);
  EXPECT_EQ(out.error.retry_after.value_or(0s), 4s);
  EXPECT_NE(out.error.message.find("injected status 503"), std::string::npos) << out.error.message;

  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":401})").ok());
  out = up->fetch(kContext, "");
  EXPECT_TRUE(out.error.auth);

  ASSERT_TRUE(server_.set_mode(R"({"mode":"normal"})").ok());
  EXPECT_TRUE(up->fetch(kContext, "").ok);
}

TEST_F(Flagd, BearerTokenAndSelector) {
  ASSERT_TRUE(server_.set_auth_token("tok").ok());
  auto c = config(Mode::kFlagd);
  c.bearer_token_file = dir_.write("token", "tok\n");
  c.selector = "flagSetId=fleet";
  auto up = make(c);
  auto out = up->fetch(kContext, "");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(last(kResolveAll)["headers"]["flagd-selector"], "flagSetId=fleet");
}

TEST_F(Flagd, UnusableAnswersAreErrorsNeverPartial) {
  auto c = config(Mode::kFlagd);
  c.max_body = 1u << 20;
  auto up = make(c);
  for (const char* mode :
       {R"({"mode":"garbage"})", R"({"mode":"wrongtype"})", R"({"mode":"truncate"})",
        R"({"mode":"huge","hugeBytes":4194304})", R"({"mode":"down"})"}) {
    ASSERT_TRUE(server_.set_mode(mode).ok());
    auto out = up->fetch(kContext, "");
    expect_failed_without_data(out);
  }
  ASSERT_TRUE(server_.set_mode(R"({"mode":"slow","delayMs":3000})").ok());
  c.timeout = 300ms;
  auto quick = make(c);
  auto out = quick->fetch(kContext, "");
  expect_failed_without_data(out);
  EXPECT_NE(out.error.message.find("timeout"), std::string::npos) << out.error.message;
}

// ---- EventStream ----

TEST_F(Flagd, EventStreamReportsReadyChangesAndKeepAlive) {
  auto c = config(Mode::kFlagd);
  c.selector = "flagSetId=fleet";
  StreamRunner stream(c);
  ASSERT_TRUE(stream.wait_for("provider_ready"));

  const Json req = last(kEventStream);
  EXPECT_EQ(req["headers"]["content-type"], "application/connect+json");
  EXPECT_EQ(req["headers"]["flagd-selector"], "flagSetId=fleet");
  EXPECT_EQ(req["body"], Json::object());

  std::string changed = test_util::kFlags;
  changed.replace(changed.find("\"defaultVariant\": \"on\""), 22, "\"defaultVariant\": \"off\"");
  ASSERT_TRUE(server_.set_flags(changed).ok());
  ASSERT_TRUE(stream.wait_for("configuration_change"));

  ASSERT_TRUE(server_.set_keep_alive_ms(50).ok());
  ASSERT_TRUE(stream.wait_for("keep_alive", 2));

  stream.cancel();
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->message.find("cancelled"), std::string::npos) << result->message;
}

TEST_F(Flagd, EventStreamEndedByServer) {
  StreamRunner stream(config(Mode::kFlagd));
  ASSERT_TRUE(stream.wait_for("provider_ready"));
  ASSERT_TRUE(server_.stop_streams(false).ok());
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->message.find("ended by the server"), std::string::npos) << result->message;
}

TEST_F(Flagd, EventStreamShutdownAnnounced) {
  StreamRunner stream(config(Mode::kFlagd));
  ASSERT_TRUE(stream.wait_for("provider_ready"));
  server_.stop();
  ASSERT_TRUE(stream.wait_for("provider_shutdown"));
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->message.find("ended by the server"), std::string::npos) << result->message;
}

TEST_F(Flagd, EventStreamDropIsAnError) {
  StreamRunner stream(config(Mode::kFlagd));
  ASSERT_TRUE(stream.wait_for("provider_ready"));
  ASSERT_TRUE(server_.stop_streams(true).ok());
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->message.find("io"), std::string::npos) << result->message;
}

TEST_F(Flagd, EventStreamKilledServerIsAnError) {
  StreamRunner stream(config(Mode::kFlagd));
  ASSERT_TRUE(stream.wait_for("provider_ready"));
  server_.kill9();
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->message.empty());
  EXPECT_EQ(stream.events(), std::vector<std::string>{"provider_ready"});
}

TEST_F(Flagd, EventStreamBadAnswers) {
  auto c = config(Mode::kFlagd);
  c.max_body = 1u << 20;
  const struct {
    const char* mode;
    const char* expect;
  } cases[] = {
      {R"({"mode":"garbage"})", "not JSON"},
      {R"({"mode":"wrongtype"})", "not a JSON object"},
      {R"({"mode":"huge","hugeBytes":4194304})", "exceeds"},
      {R"({"mode":"truncate"})", "io"},
      {R"({"mode":"status","status":503})", "HTTP 503"},
      {R"({"mode":"down"})", "io"},
  };
  for (const auto& k : cases) {
    ASSERT_TRUE(server_.set_mode(k.mode).ok());
    StreamRunner stream(c);
    auto result = stream.wait_done();
    ASSERT_TRUE(result.has_value()) << k.mode;
    EXPECT_NE(result->message.find(k.expect), std::string::npos)
        << k.mode << ": " << result->message;
    EXPECT_TRUE(stream.events().empty()) << k.mode;
  }
}

TEST_F(Flagd, EventStreamStatusErrors) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"status","status":401})").ok());
  StreamRunner stream(config(Mode::kFlagd));
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->http_status, 401);
  EXPECT_TRUE(result->auth);
}

TEST_F(Flagd, EventStreamCancelBeforeHeaders) {
  ASSERT_TRUE(server_.set_mode(R"({"mode":"slow","delayMs":30000})").ok());
  auto c = config(Mode::kFlagd);
  c.timeout = 60000ms;
  StreamRunner stream(c);
  ASSERT_GE(server_.wait_for_requests(kEventStream, 1), 1);
  stream.cancel();
  auto result = stream.wait_done();
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->message.find("cancelled"), std::string::npos) << result->message;
}

// Envelopes split across HTTP chunks at every possible point, then an end-stream envelope that
// carries a Connect error.
TEST(EventStreamScripted, SplitEnvelopesAndEndStreamError) {
  const std::string body =
      EnvelopeParser::encode(0, R"({"type":"provider_ready","data":{}})") +
      EnvelopeParser::encode(
          0, R"({"type":"configuration_change","data":{"flags":{"a":{"type":"update"}}}})") +
      EnvelopeParser::encode(0, R"({"type":"keep_alive","data":null})") +
      EnvelopeParser::encode(
          EnvelopeParser::kEndStream,
          R"({"error":{"code":"deadline_exceeded","message":"stream deadline"},"metadata":{}})");
  ff::testing::ScriptServer srv([&](ff::testing::ScriptConn& c) {
    auto req = c.read_request();
    if (!req) return;
    c.send(
        "HTTP/1.1 200 OK\r\nContent-Type: application/connect+json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    // Chunks of 1, 2, 3, ... bytes with pauses: every envelope boundary falls inside a read.
    std::size_t pos = 0;
    for (std::size_t n = 1; pos < body.size(); ++n) {
      const std::string part = body.substr(pos, n);
      pos += part.size();
      if (!c.send(ff::testing::chunk(part)) || !c.pause(std::chrono::milliseconds(2))) return;
    }
    c.send("0\r\n\r\n");
  });
  UpstreamConfig c;
  c.mode = Mode::kFlagd;
  c.url = srv.url("");
  std::atomic<bool> cancel{false};
  std::vector<std::string> events;
  FetchError e = run_event_stream(c, cancel, [&](const std::string& t) { events.push_back(t); });
  EXPECT_EQ(events,
            (std::vector<std::string>{"provider_ready", "configuration_change", "keep_alive"}));
  EXPECT_NE(e.message.find("deadline_exceeded: stream deadline"), std::string::npos) << e.message;
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/flagd.evaluation.v1.Service/EventStream");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/connect+json");
  EXPECT_EQ(reqs[0].headers["connect-protocol-version"], "1");
  EXPECT_EQ(reqs[0].body, std::string("\x00\x00\x00\x00\x02{}", 7));
}

TEST(EventStreamScripted, BodyEndingWithoutEndStreamOrInsideAMessage) {
  for (const bool partial : {false, true}) {
    std::string body = EnvelopeParser::encode(0, R"({"type":"provider_ready","data":{}})");
    if (partial) body += std::string("\x00\x00\x00", 3);
    ff::testing::ScriptServer srv([&](ff::testing::ScriptConn& c) {
      if (!c.read_request()) return;
      c.send(ff::testing::simple_response(200, body));
    });
    UpstreamConfig c;
    c.mode = Mode::kFlagd;
    c.url = srv.url("");
    std::atomic<bool> cancel{false};
    int n = 0;
    FetchError e = run_event_stream(c, cancel, [&](const std::string&) { ++n; });
    EXPECT_EQ(n, 1);
    EXPECT_NE(e.message.find(partial ? "inside a message" : "without an end-stream"),
              std::string::npos)
        << e.message;
  }
}

TEST(EventStreamScripted, CompressedMessagesAreRefused) {
  ff::testing::ScriptServer srv([&](ff::testing::ScriptConn& c) {
    if (!c.read_request()) return;
    c.send(ff::testing::simple_response(200,
                                        EnvelopeParser::encode(EnvelopeParser::kCompressed, "x")));
  });
  UpstreamConfig c;
  c.mode = Mode::kFlagd;
  c.url = srv.url("");
  std::atomic<bool> cancel{false};
  FetchError e = run_event_stream(c, cancel, [&](const std::string&) {});
  EXPECT_NE(e.message.find("compressed"), std::string::npos) << e.message;
}
