// The API server over real Unix sockets (and a loopback TCP listener): routing end to end,
// keep-alive, pipelining, limits, timeouts, blocking queries, connection limits, socket file
// handling and drain. Waits are "eventually" conditions with generous deadlines; nothing
// asserts how long something took.
#include "agent/api/server.h"

#include "agent/api/routes.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/http/client.h"
#include "test_client.h"
#include "tests/fakes/fake_clock.h"

namespace ff::api {
namespace {

using std::chrono::milliseconds;
using test::Conn;
using test::get;
using test::post;
constexpr std::int64_t kNow = 1'764'400'000'000;

state::Snapshot ready_snapshot(const std::string& color = "blue") {
  state::Snapshot s;
  s.ready = true;
  s.source = state::Source::kLive;
  s.synced_at_ms = kNow - 3'000;
  state::FlagAnswer a;
  a.value = color;
  a.has_value = true;
  a.variant = color;
  a.reason = "STATIC";
  s.flags["color"] = a;
  s.sync.mode = "ofrep";
  s.sync.upstream = "http://flagd:8016";
  return s;
}

Json body_json(const test::RawResponse& r) {
  auto j = json::parse(r.body);
  EXPECT_TRUE(j.ok()) << r.body;
  return j.ok() ? *j : Json();
}

// Polls `cond` until true or the deadline passes.
template <class F>
bool eventually(F cond, milliseconds deadline = milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : clock_(kNow) {
    char tmpl[] = "/tmp/ffapi.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    options_.socket_path = dir_ + "/s.sock";
    options_.read_timeout = milliseconds(2000);
    options_.idle_timeout = milliseconds(5000);
    options_.max_header_bytes = 2048;
    options_.max_body_bytes = 4096;
  }
  ~ServerTest() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  Server& start(OfrepBackend* backend = nullptr, Views views = {}) {
    server_ = std::make_unique<Server>(options_, holder_, clock_, backend, std::move(views));
    auto r = server_->start();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
    return *server_;
  }

  Conn connect() {
    Conn c = Conn::unix_socket(options_.socket_path);
    EXPECT_TRUE(c.ok());
    return c;
  }

  std::optional<test::RawResponse> roundtrip(const std::string& request) {
    Conn c = connect();
    if (!c.send(request)) return std::nullopt;
    return c.read_response();
  }

  std::string dir_;
  ServerOptions options_;
  testing::FakeClock clock_;
  state::StateHolder holder_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ServesEveryRoute) {
  holder_.publish(ready_snapshot());
  Views views;
  views.context = [] { return Json{{"targetingKey", "host-1"}}; };
  views.metrics = [] { return std::string("fleetflag_flags 1\n"); };
  views.status_extra = [] { return Json{{"pins", 0}}; };
  start(nullptr, views);

  auto r = roundtrip(get("/v1/flags"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  EXPECT_EQ(r->header("Age"), "3");
  EXPECT_EQ(r->header("X-Fleetflag-Stale"), "false");
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "1");
  EXPECT_EQ(body_json(*r)["flags"]["color"]["value"], "blue");

  r = roundtrip(get("/v1/flags/color"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(*r)["key"], "color");
  r = roundtrip(get("/v1/flags/nope"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(body_json(*r)["errorCode"], "FLAG_NOT_FOUND");

  r = roundtrip(get("/v1/status"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(*r)["mode"], "ofrep");
  EXPECT_EQ(body_json(*r)["pins"], 0);
  r = roundtrip(get("/v1/context"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(*r)["targetingKey"], "host-1");
  r = roundtrip(get("/metrics"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "fleetflag_flags 1\n");
  EXPECT_EQ(r->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  r = roundtrip(get("/healthz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(*r)["status"], "ok");
  r = roundtrip(get("/readyz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  r = roundtrip(post("/ofrep/v1/evaluate/flags", R"({"context":{"targetingKey":"x"}})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto etag = r->header("ETag");
  ASSERT_TRUE(etag);
  EXPECT_EQ(body_json(*r)["flags"][0]["value"], "blue");
  r = roundtrip(post("/ofrep/v1/evaluate/flags", "{}", "If-None-Match: " + *etag + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  EXPECT_TRUE(r->body.empty());
  r = roundtrip(post("/ofrep/v1/evaluate/flags/color", "{}"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(*r)["value"], "blue");
  r = roundtrip(post("/ofrep/v1/evaluate/flags/color", "{nope"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(body_json(*r)["errorCode"], "INVALID_CONTEXT");

  r = roundtrip(get("/nowhere"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = roundtrip("DELETE /v1/flags HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("Allow"), "GET, HEAD");
}

TEST_F(ServerTest, NotReadyIs503) {
  start();
  auto r = roundtrip(get("/v1/flags"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body_json(*r)["errorCode"], "PROVIDER_NOT_READY");
  EXPECT_EQ(r->header("X-Fleetflag-Stale"), "true");
  r = roundtrip(get("/readyz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  r = roundtrip(get("/healthz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, SocketModeAndGroup) {
  group* g = ::getgrgid(::getgid());
  ASSERT_NE(g, nullptr);
  options_.socket_group = g->gr_name;
  start();
  struct stat st {};
  ASSERT_EQ(::stat(options_.socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, ::getgid());
  server_->stop();
  EXPECT_NE(::access(options_.socket_path.c_str(), F_OK), 0) << "socket file removed on stop";
}

TEST_F(ServerTest, CustomModeAndUnknownGroup) {
  options_.socket_mode = 0600;
  start();
  struct stat st {};
  ASSERT_EQ(::stat(options_.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  server_.reset();

  options_.socket_group = "no-such-group-ff";
  Server s(options_, holder_, clock_);
  auto r = s.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "chgrp");
  EXPECT_NE(::access(options_.socket_path.c_str(), F_OK), 0) << "no socket left behind";
}

TEST_F(ServerTest, StaleSocketIsReplaced) {
  // A socket file nobody listens on, as left by a crash.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, options_.socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  ASSERT_EQ(::access(options_.socket_path.c_str(), F_OK), 0);

  holder_.publish(ready_snapshot());
  start();
  auto r = roundtrip(get("/healthz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, LiveSocketIsNotStolen) {
  start();
  Server second(options_, holder_, clock_);
  auto r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "socket_in_use");
  auto resp = roundtrip(get("/healthz"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  second.stop();  // not started: nothing to remove
  EXPECT_EQ(::access(options_.socket_path.c_str(), F_OK), 0);
}

TEST_F(ServerTest, RefusesNonSocketFileAndMissingDirectory) {
  { std::ofstream(options_.socket_path) << "data"; }
  Server s1(options_, holder_, clock_);
  auto r = s1.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bind");
  std::ifstream in(options_.socket_path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "data") << "a regular file is never removed";

  options_.socket_path = dir_ + "/missing/s.sock";
  Server s2(options_, holder_, clock_);
  r = s2.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bind");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/missing")) << "parent dirs are not created";
}

TEST_F(ServerTest, KeepAliveReusesTheConnection) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.send(get(i % 2 ? "/v1/flags" : "/healthz")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->header("Connection"), "close");
  }
  EXPECT_EQ(server_->active_connections(), 1u);
  // Connection: close is honoured.
  ASSERT_TRUE(c.send(get("/healthz", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, PipelinedRequestsAnswerInOrder) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  ASSERT_TRUE(c.send(get("/healthz") + get("/v1/flags/color") +
                     post("/ofrep/v1/evaluate/flags/color", "{}") + get("/v1/flags/nope") +
                     get("/readyz")));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  auto r3 = c.read_response();
  auto r4 = c.read_response();
  auto r5 = c.read_response();
  ASSERT_TRUE(r1 && r2 && r3 && r4 && r5);
  EXPECT_EQ(body_json(*r1)["status"], "ok");
  EXPECT_EQ(body_json(*r2)["key"], "color");
  EXPECT_EQ(body_json(*r3)["reason"], "STATIC");
  EXPECT_EQ(r4->status, 404);
  EXPECT_EQ(body_json(*r5)["status"], "ready");
  EXPECT_EQ(server_->active_connections(), 1u);
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  ASSERT_TRUE(c.send("HEAD /v1/flags HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Read just the header block, then check that nothing else follows.
  ASSERT_TRUE(c.send(get("/healthz")));
  std::string all;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  while (all.find("\"ok\"") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    c.wait_closed(milliseconds(50));
    all = c.pending();
  }
  const auto first_end = all.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos);
  EXPECT_NE(all.find("Content-Length: "), std::string::npos);
  EXPECT_EQ(all.compare(first_end + 4, 15, "HTTP/1.1 200 OK"), 0) << all;
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  holder_.publish(ready_snapshot());
  start();
  for (const std::string& bad :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /v1/flags HTTP/9.9\r\n\r\n"),
        std::string("GET /v1/flags HTTP/1.1\r\nNo colon here\r\n\r\n"),
        std::string("GET /v1/flags HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        std::string("GET\x01 / HTTP/1.1\r\n\r\n"),
        std::string("POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                    "\r\nzz\r\n")}) {
    Conn c = connect();
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    const Json b = body_json(*r);
    EXPECT_EQ(b["error"], "bad_request");
    EXPECT_TRUE(b["message"].is_string());
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed()) << bad;
  }
  auto r = roundtrip(get("/healthz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, OversizedHeaderIs431AndBodyIs413) {
  holder_.publish(ready_snapshot());
  start();
  {
    Conn c = connect();
    ASSERT_TRUE(c.send("GET /v1/flags HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(body_json(*r)["error"], "header_too_large");
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // Refused on the Content-Length alone, before the body is sent.
    Conn c = connect();
    ASSERT_TRUE(c.send("POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(body_json(*r)["error"], "payload_too_large");
  }
  {
    // Chunked: refused once the chunks exceed the limit.
    Conn c = connect();
    std::string req =
        "POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i) req += "3e8\r\n" + std::string(1000, ' ') + "\r\n";
    c.send(req);  // the server may close before everything is written
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  {
    // Under the limit is fine.
    auto r =
        roundtrip(post("/ofrep/v1/evaluate/flags", "{\"context\":{}}" + std::string(3000, ' ')));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ServerTest, ExpectContinue) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  const std::string body = R"({"context":{"targetingKey":"k"}})";
  ASSERT_TRUE(c.send("POST /ofrep/v1/evaluate/flags/color HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send(body));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_json(*r)["value"], "blue");
}

TEST_F(ServerTest, HalfClosedClientStillGetsItsAnswer) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  ASSERT_TRUE(c.send(get("/v1/flags/color")));
  c.shutdown_write();
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ServerTest, SlowlorisIsClosedWhileOthersAreServed) {
  options_.read_timeout = milliseconds(600);
  holder_.publish(ready_snapshot());
  start();

  std::atomic<bool> slow_closed{false};
  std::atomic<bool> stop_slow{false};
  std::thread slow([&] {
    Conn c = connect();
    const std::string req = "GET /v1/flags HTTP/1.1\r\nX-Slow: " + std::string(1000, 'a');
    for (std::size_t i = 0; i < req.size() && !stop_slow; ++i) {
      if (!c.send(std::string(1, req[i]))) break;
      // A closed connection shows as EOF/reset on read.
      if (c.wait_closed(milliseconds(100))) break;
    }
    slow_closed = c.wait_closed(milliseconds(100)) || !c.send("x");
  });

  // Meanwhile other clients are served, repeatedly.
  int served = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = roundtrip(get("/v1/flags"));
    if (r && r->status == 200) ++served;
  }
  EXPECT_EQ(served, 5);
  ASSERT_TRUE(eventually([&] { return slow_closed.load(); }, milliseconds(15000)));
  stop_slow = true;
  slow.join();
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, SilentAndIdleConnectionsAreClosed) {
  options_.read_timeout = milliseconds(300);
  options_.idle_timeout = milliseconds(300);
  holder_.publish(ready_snapshot());
  start();
  Conn silent = connect();
  EXPECT_TRUE(silent.wait_closed());
  Conn idle = connect();
  ASSERT_TRUE(idle.send(get("/healthz")));
  ASSERT_TRUE(idle.read_response());
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, ConnectionLimitAnswers503) {
  options_.max_connections = 2;
  holder_.publish(ready_snapshot());
  start();
  Conn a = connect();
  Conn b = connect();
  for (Conn* c : {&a, &b}) {
    ASSERT_TRUE(c->send(get("/healthz")));
    ASSERT_TRUE(c->read_response());
  }
  EXPECT_EQ(server_->active_connections(), 2u);
  {
    Conn over = connect();
    over.send(get("/healthz"));
    auto r = over.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(body_json(*r)["error"], "too_many_connections");
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(over.wait_closed());
  }
  // Existing connections still work; freeing one admits a new one.
  ASSERT_TRUE(a.send(get("/healthz")));
  ASSERT_TRUE(a.read_response());
  b.close();
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == 1; }));
  auto r = roundtrip(get("/healthz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, BlockingQueryReturnsOnPublish) {
  holder_.publish(ready_snapshot("blue"));
  start();
  Conn c = connect();
  ASSERT_TRUE(c.send(get("/v1/flags?index=1&wait=60s")));
  // Until the publish, no answer (the request is parked).
  EXPECT_FALSE(c.read_response(milliseconds(200)));
  holder_.publish(ready_snapshot("red"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "2");
  EXPECT_EQ(body_json(*r)["revision"], 2);
  EXPECT_EQ(body_json(*r)["flags"]["color"]["value"], "red");
  // The connection is still usable.
  ASSERT_TRUE(c.send(get("/v1/flags?index=1")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "2");
}

TEST_F(ServerTest, BlockingQueryTimesOutWithCurrentSnapshot) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  ASSERT_TRUE(c.send(get("/v1/flags?index=1&wait=200ms")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "1");
  EXPECT_EQ(body_json(*r)["flags"]["color"]["value"], "blue");
  // An index already behind answers at once; a bad index is a 400.
  ASSERT_TRUE(c.send(get("/v1/flags?index=0&wait=60s")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "1");
  ASSERT_TRUE(c.send(get("/v1/flags?index=abc")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(ServerTest, BlockingQueryWaitsForReadiness) {
  start();
  Conn c = connect();
  ASSERT_TRUE(c.send(get("/v1/flags?index=0&wait=60s")));
  EXPECT_FALSE(c.read_response(milliseconds(100)));
  holder_.publish(ready_snapshot());
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, BlockingQueryClientGoneCancelsTheWait) {
  holder_.publish(ready_snapshot());
  start();
  {
    Conn c = connect();
    ASSERT_TRUE(c.send(get("/v1/flags?index=1&wait=5m")));
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return server_->active_connections() == 0; }));
  holder_.publish(ready_snapshot("red"));  // nobody left to wake
  auto r = roundtrip(get("/v1/flags"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "2");
}

TEST_F(ServerTest, ManyBlockingQueriesWakeTogether) {
  options_.threads = 3;
  holder_.publish(ready_snapshot());
  start();
  std::vector<Conn> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(connect());
    ASSERT_TRUE(conns.back().send(get("/v1/flags?index=1&wait=60s")));
  }
  ASSERT_TRUE(eventually([&] { return server_->active_connections() == 20; }));
  holder_.publish(ready_snapshot("green"));
  for (auto& c : conns) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(body_json(*r)["flags"]["color"]["value"], "green");
  }
}

TEST_F(ServerTest, StopAnswersWaitersAndDrainsInFlight) {
  holder_.publish(ready_snapshot());
  std::atomic<bool> in_view{false};
  Views views;
  views.metrics = [&] {
    in_view = true;
    std::this_thread::sleep_for(milliseconds(300));
    return std::string("slow 1\n");
  };
  options_.threads = 2;
  start(nullptr, views);

  Conn waiter = connect();
  ASSERT_TRUE(waiter.send(get("/v1/flags?index=1&wait=5m")));
  Conn slow = connect();
  ASSERT_TRUE(slow.send(get("/metrics")));
  Conn idle = connect();
  ASSERT_TRUE(eventually([&] { return in_view.load() && server_->active_connections() == 3; }));

  server_->stop(milliseconds(5000));
  EXPECT_EQ(server_->active_connections(), 0u);
  EXPECT_NE(::access(options_.socket_path.c_str(), F_OK), 0);

  auto r = waiter.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("X-Fleetflag-Index"), "1");
  EXPECT_EQ(r->header("Connection"), "close");
  r = slow.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "slow 1\n");
  EXPECT_TRUE(idle.wait_closed());
  // New clients cannot connect any more.
  EXPECT_FALSE(Conn::unix_socket(options_.socket_path).ok());
}

TEST_F(ServerTest, RestartAfterStop) {
  holder_.publish(ready_snapshot());
  start();
  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  auto r = roundtrip(get("/v1/flags?index=0"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, GarbageNeverTakesTheServerDown) {
  holder_.publish(ready_snapshot());
  start();
  std::srand(42);
  for (int i = 0; i < 50; ++i) {
    Conn c = connect();
    std::string junk(static_cast<std::size_t>(std::rand() % 3000), '\0');
    for (auto& ch : junk) ch = static_cast<char>(std::rand() % 256);
    if (i % 3 == 0) junk.insert(0, "GET /v1/flags HTTP/1.1\r\n");
    junk += "\r\n\r\n";
    c.send(junk);
    if (auto r = c.read_response(milliseconds(3000))) {
      EXPECT_GE(r->status, 400);
    }
  }
  auto r = roundtrip(get("/healthz"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, ConcurrentClientsOnSeveralThreads) {
  options_.threads = 4;
  holder_.publish(ready_snapshot());
  start();
  std::vector<std::future<int>> results;
  results.reserve(8);
  for (int t = 0; t < 8; ++t) {
    results.push_back(std::async(std::launch::async, [&] {
      int ok = 0;
      Conn c = connect();
      for (int i = 0; i < 50; ++i) {
        if (!c.send(get("/v1/flags/color"))) break;
        auto r = c.read_response();
        if (r && r->status == 200) ++ok;
      }
      return ok;
    }));
  }
  std::thread publisher([&] {
    for (int i = 0; i < 50; ++i) holder_.publish(ready_snapshot(i % 2 ? "red" : "blue"));
  });
  publisher.join();
  for (auto& f : results) EXPECT_EQ(f.get(), 50);
}

TEST_F(ServerTest, TcpListenerOnLoopback) {
  options_.tcp_address = "127.0.0.1";
  options_.tcp_port = 0;
  holder_.publish(ready_snapshot());
  start();
  const auto port = server_->tcp_port();
  ASSERT_NE(port, 0);

  http::Client client;
  http::Request req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/ofrep/v1/evaluate/flags";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = R"({"context":{"targetingKey":"sdk"}})";
  req.timeout = milliseconds(10000);
  auto r = client.request(req);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(r->header("ETag"));
  auto j = json::parse(r->body);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["flags"][0]["key"], "color");

  // The raw client too: keep-alive over TCP and the 413 path.
  Conn c = Conn::tcp(port);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(get("/healthz")));
  ASSERT_TRUE(c.read_response());
  ASSERT_TRUE(c.send("POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nContent-Length: 99999\r\n\r\n" +
                     std::string(8000, ' ')));
  auto big = c.read_response();
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
}

TEST_F(ServerTest, TcpListenerServesOnlyOfrepAndProbes) {
  options_.tcp_address = "127.0.0.1";
  holder_.publish(ready_snapshot());
  Views views;
  views.context = [] { return Json{{"targetingKey", "host-1"}}; };
  views.metrics = [] { return std::string("ff_up 1\n"); };
  start(nullptr, views);
  Conn c = Conn::tcp(server_->tcp_port());
  ASSERT_TRUE(c.ok());
  for (const char* path : {"/v1/flags", "/v1/flags/color", "/v1/flags?index=1&wait=60s",
                           "/v1/status", "/v1/context", "/metrics", "/nope"}) {
    ASSERT_TRUE(c.send(get(path)));
    auto r = c.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->header("Content-Type"), "application/json") << path;
    EXPECT_EQ(body_json(*r)["error"], "not_found") << path;
  }
  ASSERT_TRUE(c.send(get("/healthz")));
  auto health = c.read_response();
  ASSERT_TRUE(health);
  ASSERT_TRUE(c.send(get("/readyz")));
  auto ready = c.read_response();
  ASSERT_TRUE(ready);
  ASSERT_TRUE(c.send(post("/ofrep/v1/evaluate/flags/color", "{}")));
  auto one = c.read_response();
  ASSERT_TRUE(one);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(body_json(*health)["status"], "ok");
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(body_json(*one)["value"], "blue");

  // The same admin paths on the Unix socket are served.
  Conn u = connect();
  for (const char* path : {"/v1/flags", "/v1/flags/color", "/v1/status", "/metrics"}) {
    ASSERT_TRUE(u.send(get(path)));
    auto r = u.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
}

// GET /v1/flags/{key} and /v1/flags are answered from pre-rendered bytes: they must be what
// Beast's serializer writes (HEAD goes through it: same head, no body), with Age following the
// clock and the body following the snapshot.
TEST_F(ServerTest, RenderedAnswersAreTheSerializersBytes) {
  holder_.publish(ready_snapshot());
  start();
  Conn c = connect();
  for (const char* path : {"/v1/flags/color", "/v1/flags", "/v1/flags/"}) {
    ASSERT_TRUE(c.send(get(path)));
    auto fast = c.read_response();
    ASSERT_TRUE(fast) << path;
    // HEAD has a Content-Length but no body: read its head raw, up to the next answer.
    Conn h = connect();
    ASSERT_TRUE(h.send(std::string("HEAD ") + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n" +
                       get("/healthz")));
    ASSERT_TRUE(eventually([&] {
      h.wait_closed(milliseconds(20));
      return h.pending().find("\"ok\"") != std::string::npos;
    }));
    const std::string slow_head = h.pending().substr(0, h.pending().find("\r\n\r\n") + 4);
    EXPECT_EQ(fast->raw.substr(0, fast->raw.size() - fast->body.size()), slow_head) << path;
    Context ctx;
    ctx.snapshot = holder_.current();
    ctx.clock = &clock_;
    EXPECT_EQ(fast->body, handle(Request{"GET", path, {}, ""}, ctx).body) << path;
  }
  ASSERT_TRUE(c.send(get("/v1/flags/color")));
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->raw.substr(0, first->raw.find("\r\n\r\n") + 4),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nAge: 3\r\n"
            "X-Fleetflag-Stale: false\r\nX-Fleetflag-Index: 1\r\nContent-Length: " +
                std::to_string(first->body.size()) + "\r\n\r\n");

  clock_.advance(milliseconds(12'000));
  ASSERT_TRUE(c.send(get("/v1/flags/color")));
  auto later = c.read_response();
  ASSERT_TRUE(later);
  EXPECT_EQ(later->header("Age"), "15");
  EXPECT_EQ(later->body, first->body);

  holder_.publish(ready_snapshot("red"));
  ASSERT_TRUE(c.send(get("/v1/flags/color") + get("/v1/flags/nope")));
  auto changed = c.read_response();
  auto missing = c.read_response();
  ASSERT_TRUE(changed && missing);
  EXPECT_EQ(changed->header("X-Fleetflag-Index"), "2");
  EXPECT_EQ(body_json(*changed)["value"], "red");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(body_json(*missing)["errorCode"], "FLAG_NOT_FOUND");
  EXPECT_EQ(server_->active_connections(), 1u);
}

TEST_F(ServerTest, TcpMustBeLoopback) {
  options_.tcp_address = "192.0.2.1";
  Server s(options_, holder_, clock_);
  auto r = s.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bind");
  EXPECT_NE(::access(options_.socket_path.c_str(), F_OK), 0) << "unix socket cleaned up";
}

}  // namespace
}  // namespace ff::api
