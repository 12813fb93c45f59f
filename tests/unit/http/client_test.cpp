// HTTP client over plain TCP against a scripted loopback peer: framing, limits, deadlines,
// malformed answers, and server-streamed bodies.
#include "common/http/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/unit/http/script_server.h"

using ff::http::Client;
using ff::http::Request;
using ff::testing::chunk;
using ff::testing::ScriptConn;
using ff::testing::ScriptServer;
using ff::testing::simple_response;
using namespace std::chrono_literals;

namespace {

Request get(const std::string& url, std::chrono::milliseconds timeout = 5000ms) {
  Request r;
  r.url = url;
  r.timeout = timeout;
  return r;
}

// Reads the request, then sends `bytes` and closes.
ScriptServer::Handler reply(std::string bytes) {
  return [bytes](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send(bytes);
  };
}

}  // namespace

TEST(HttpClient, GetWithContentLength) {
  ScriptServer srv(reply(simple_response(200, "hello", "X-Thing: 1\r\nETag: \"abc\"\r\n")));
  Client client;
  auto r = client.request(get(srv.url("/a/b?x=1")));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->header("etag").value_or(""), "\"abc\"");
  EXPECT_EQ(r->header("x-THING").value_or(""), "1");
  EXPECT_FALSE(r->header("missing").has_value());
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/a/b?x=1");
  EXPECT_EQ(reqs[0].headers["host"], "127.0.0.1:" + std::to_string(srv.port()));
  EXPECT_EQ(reqs[0].headers["connection"], "close");
}

TEST(HttpClient, ResolvesHostNames) {
  ScriptServer srv(reply(simple_response(200, "by name")));
  Client client;
  auto r = client.request(get("http://localhost:" + std::to_string(srv.port()) + "/"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->body, "by name");
  EXPECT_EQ(srv.requests().at(0).headers["host"], "localhost:" + std::to_string(srv.port()));
}

TEST(HttpClient, PostSendsBodyAndHeaders) {
  ScriptServer srv(reply(simple_response(201, "{}")));
  Client client;
  Request req = get(srv.url("/post"));
  req.method = "POST";
  req.body = R"({"context":{"a":1}})";
  req.headers = {{"Content-Type", "application/json"}, {"If-None-Match", "\"e1\""}};
  auto r = client.request(req);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 201);
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].body, req.body);
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].headers["if-none-match"], "\"e1\"");
  EXPECT_EQ(reqs[0].headers["content-length"], std::to_string(req.body.size()));
}

TEST(HttpClient, PathlessUrlAndQueryOnlyTargets) {
  ScriptServer srv(reply(simple_response(200, "")));
  Client client;
  ASSERT_TRUE(client.request(get("http://127.0.0.1:" + std::to_string(srv.port()))).ok());
  ASSERT_TRUE(client.request(get("http://127.0.0.1:" + std::to_string(srv.port()) + "?q=1#f")));
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/");
  EXPECT_EQ(reqs[1].target, "/?q=1");
}

TEST(HttpClient, DecodesChunkedBody) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunk("hel"));
    c.pause(20ms);
    c.send(chunk("lo, "));
    c.send(chunk("world"));
    c.send("0\r\n\r\n");
  });
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->body, "hello, world");
}

TEST(HttpClient, BodyDelimitedByClose) {
  ScriptServer srv(reply("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->body, "until the end");
}

TEST(HttpClient, NonSuccessStatusIsAResponseNotAnError) {
  ScriptServer srv(reply(simple_response(503, R"({"errorDetails":"x"})", "Retry-After: 7\r\n")));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("Retry-After").value_or(""), "7");
}

TEST(HttpClient, ContentLengthBeyondLimitIsTooLarge) {
  ScriptServer srv(reply(simple_response(200, std::string(2000, 'x'))));
  Client client;
  Request req = get(srv.url());
  req.max_body = 1000;
  auto r = client.request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(HttpClient, ChunkedBeyondLimitIsTooLarge) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 100; ++i) {
      if (!c.send(chunk(std::string(100, 'y')))) return;
    }
    c.send("0\r\n\r\n");
  });
  Client client;
  Request req = get(srv.url());
  req.max_body = 1000;
  auto r = client.request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(HttpClient, BodyExactlyAtLimitIsAccepted) {
  ScriptServer srv(reply(simple_response(200, std::string(1000, 'x'))));
  Client client;
  Request req = get(srv.url());
  req.max_body = 1000;
  auto r = client.request(req);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->body.size(), 1000u);
}

TEST(HttpClient, HugeHeaderIsTooLarge) {
  ScriptServer srv(reply("HTTP/1.1 200 OK\r\nX-Big: " + std::string(100000, 'h') +
                         "\r\nContent-Length: 0\r\n\r\n"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(HttpClient, SilentServerTimesOut) {
  ScriptServer srv([](ScriptConn& c) {
    c.read_request();
    c.hold();
  });
  Client client;
  auto r = client.request(get(srv.url(), 300ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "timeout");
  EXPECT_NE(r.error().message.find("read"), std::string::npos) << r.error().message;
}

// A peer that keeps every single read short of the deadline must still hit the whole-exchange
// deadline (no per-read timer reset).
TEST(HttpClient, SlowlorisHitsTheWholeExchangeDeadline) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    for (int i = 0; i < 100000; ++i) {
      if (!c.send("x") || !c.pause(30ms)) return;
    }
  });
  Client client;
  auto r = client.request(get(srv.url(), 400ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "timeout");
}

TEST(HttpClient, SlowHeadersHitTheDeadline) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    for (const char ch : std::string("HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa")) {
      if (!c.send(std::string(1, ch)) || !c.pause(30ms)) return;
    }
  });
  Client client;
  auto r = client.request(get(srv.url(), 300ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "timeout");
}

TEST(HttpClient, GarbageIsAnIoError) {
  ScriptServer srv(reply("<<not http>>\x00\xff\r\n\r\n"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
}

TEST(HttpClient, BadChunkFramingIsAnIoError) {
  ScriptServer srv(reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
}

TEST(HttpClient, CloseWithoutResponseIsAnIoError) {
  ScriptServer srv([](ScriptConn& c) { c.read_request(); });
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
}

TEST(HttpClient, TruncatedBodyIsAnIoErrorNotAPartialBody) {
  ScriptServer srv(reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
}

TEST(HttpClient, TruncatedChunkedBodyIsAnIoError) {
  ScriptServer srv(reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
}

TEST(HttpClient, RefusedConnectionIsAConnectError) {
  int port = 0;
  {
    ScriptServer srv([](ScriptConn&) {});
    port = srv.port();
  }
  Client client;
  auto r = client.request(get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "connect");
}

TEST(HttpClient, RejectsBadUrls) {
  Client client;
  for (const char* url :
       {"ftp://127.0.0.1/", "127.0.0.1:80/x", "http://", "http:///path", "http://u:p@127.0.0.1/",
        "http://127.0.0.1:99999/", "http://127.0.0.1:/", "http://127.0.0.1:8x/",
        "http://127.0.0.1/a b", "http://127.0.0.1/a\r\nX: y", "http://[::1/", "http://ho$t/",
        "http://[nothex]/"}) {
    auto r = client.request(get(url));
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, "bad_url") << url;
  }
}

TEST(HttpClient, RejectsHeaderInjection) {
  ScriptServer srv(reply(simple_response(200, "")));
  Client client;
  Request req = get(srv.url());
  req.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  auto r = client.request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_request");
  req.headers = {{"Bad Name", "v"}};
  r = client.request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_request");
  EXPECT_EQ(srv.connections(), 0);
}

TEST(HttpClient, HttpsToAPlainServerIsATlsError) {
  ScriptServer srv([](ScriptConn& c) {
    c.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    c.hold();
  });
  Client client;
  auto r = client.request(get("https://127.0.0.1:" + std::to_string(srv.port()) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
}

TEST(HttpClient, ClientsOnSeveralThreadsAreIndependent) {
  ScriptServer srv([](ScriptConn& c) {
    auto req = c.read_request();
    if (!req) return;
    c.send(simple_response(200, req->target));
  });
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Client client;
      for (int i = 0; i < 10; ++i) {
        const std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto r = client.request(get(srv.url(path)));
        if (r.ok() && r->body == path) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 40);
}

// ---- stream() ----

TEST(HttpStream, DeliversChunksAsTheyArriveUntilEndOfBody) {
  std::atomic<bool> release{false};
  ScriptServer srv([&](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunk("first"));
    // The second chunk is only sent once the client saw the first: proves incremental delivery.
    while (!release.load()) {
      if (!c.pause(5ms)) return;
    }
    c.send(chunk("second"));
    c.send("0\r\n\r\n");
  });
  Client client;
  std::string got;
  std::atomic<bool> cancel{false};
  Request req = get(srv.url("/events"));
  req.method = "POST";
  req.body = "{}";
  auto r = client.stream(
      req,
      [&](std::string_view data) {
        got += data;
        if (got == "first") release = true;
        return true;
      },
      cancel, 5000ms);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 200);
  EXPECT_EQ(got, "firstsecond");
}

TEST(HttpStream, ContentLengthBodyAndEarlyBytesWithHeaders) {
  ScriptServer srv(reply(simple_response(200, "abcdef")));
  Client client;
  std::string got;
  std::atomic<bool> cancel{false};
  auto r = client.stream(
      get(srv.url()),
      [&](std::string_view d) {
        got += d;
        return true;
      },
      cancel, 5000ms);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(got, "abcdef");
}

TEST(HttpStream, CancelEndsTheStreamWithTheStatus) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunk("hello"));
    c.hold();
  });
  Client client;
  std::atomic<bool> cancel{false};
  std::thread canceller;
  auto r = client.stream(
      get(srv.url()),
      [&](std::string_view) {
        if (!canceller.joinable()) canceller = std::thread([&] { cancel = true; });
        return true;
      },
      cancel, 60000ms);
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 200);
}

TEST(HttpStream, CancelBeforeHeadersIsCancelled) {
  ScriptServer srv([](ScriptConn& c) {
    c.read_request();
    c.hold();
  });
  Client client;
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    cancel = true;
  });
  auto r = client.stream(
      get(srv.url(), 60000ms), [](std::string_view) { return true; }, cancel, 60000ms);
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cancelled");
}

TEST(HttpStream, OnDataFalseStops) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunk("one"));
    c.hold();
  });
  Client client;
  std::atomic<bool> cancel{false};
  int calls = 0;
  auto r = client.stream(
      get(srv.url()),
      [&](std::string_view) {
        ++calls;
        return false;
      },
      cancel, 60000ms);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(calls, 1);
}

TEST(HttpStream, IdleTimeoutIsATimeoutError) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunk("ping"));
    c.hold();
  });
  Client client;
  std::atomic<bool> cancel{false};
  std::string got;
  auto r = client.stream(
      get(srv.url()),
      [&](std::string_view d) {
        got += d;
        return true;
      },
      cancel, 250ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "timeout");
  EXPECT_EQ(got, "ping");
}

// The whole-exchange deadline bounds only the time to the response headers: a stream that keeps
// delivering lives on.
TEST(HttpStream, DeadlineAppliesOnlyUntilHeaders) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 10; ++i) {
      if (!c.send(chunk("k")) || !c.pause(50ms)) return;
    }
    c.send("0\r\n\r\n");
  });
  Client client;
  std::atomic<bool> cancel{false};
  std::string got;
  auto r = client.stream(
      get(srv.url(), 200ms),
      [&](std::string_view d) {
        got += d;
        return true;
      },
      cancel, 5000ms);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(got, "kkkkkkkkkk");
}

TEST(HttpStream, ConnectionDropMidStreamIsAnIoError) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunk("partial"));
  });
  Client client;
  std::atomic<bool> cancel{false};
  std::string got;
  auto r = client.stream(
      get(srv.url()),
      [&](std::string_view d) {
        got += d;
        return true;
      },
      cancel, 5000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
  EXPECT_EQ(got, "partial");
}

TEST(HttpStream, ErrorStatusBodyIsDeliveredWithTheStatus) {
  ScriptServer srv(reply(simple_response(404, R"({"code":"not_found"})")));
  Client client;
  std::atomic<bool> cancel{false};
  std::string got;
  auto r = client.stream(
      get(srv.url()),
      [&](std::string_view d) {
        got += d;
        return true;
      },
      cancel, 5000ms);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 404);
  EXPECT_EQ(got, R"({"code":"not_found"})");
}

TEST(HttpStream, ExceptionInCallbackDoesNotEscape) {
  ScriptServer srv(reply(simple_response(200, "x")));
  Client client;
  std::atomic<bool> cancel{false};
  auto r = client.stream(
      get(srv.url()), [](std::string_view) -> bool { throw std::runtime_error("boom"); }, cancel,
      5000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io");
}

TEST(HttpClient, HugeContentLengthIsRefusedBeforeReading) {
  ScriptServer srv([](ScriptConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nabc");
    c.hold();
  });
  Client client;
  auto r = client.request(get(srv.url(), 60000ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(HttpClient, BodylessStatuses) {
  ScriptServer srv(reply("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"));
  Client client;
  auto r = client.request(get(srv.url()));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 304);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->header("etag").value_or(""), "\"x\"");
}
