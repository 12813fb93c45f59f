// Drives ff::testing::FlagdTestServer from tests/server/test/harness.test.mjs: one command per
// stdin line, one JSON answer per stdout line: {"ok":true,"result":...} or
// {"ok":false,"error":{"code","message"}}.
//
//   start FILE | restart | stop | kill9 | state | set_flags FILE | set_flags_raw FILE
//   set_mode JSON | set_now SECONDS | clear_now | keepalive MS | auth TOKEN | clear_auth
//   stats | stop_streams [abrupt] | reset | count PATH | wait PATH N
//   http METHOD TARGET [BODY]   (simple_http; the answer has status, headers, body)
//   quit
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tests/support/flagd_test_server.h"

namespace {

using ff::Json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Json answer(const ff::Result<Json>& r) {
  if (r.ok()) return Json{{"ok", true}, {"result", *r}};
  return Json{{"ok", false}, {"error", {{"code", r.error().code}, {"message", r.error().message}}}};
}

Json answer_port(const ff::Result<int>& r) {
  if (r.ok()) return Json{{"ok", true}, {"result", {{"port", *r}}}};
  return Json{{"ok", false}, {"error", {{"code", r.error().code}, {"message", r.error().message}}}};
}

}  // namespace

int main() {
  ff::testing::FlagdTestServer srv;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    std::string rest;
    std::getline(in >> std::ws, rest);
    Json out;
    if (cmd == "quit") break;
    if (cmd == "start") {
      out = answer_port(srv.start(read_file(rest)));
    } else if (cmd == "restart") {
      out = answer_port(srv.restart());
    } else if (cmd == "stop") {
      srv.stop();
      out = Json{{"ok", true}, {"result", nullptr}};
    } else if (cmd == "kill9") {
      srv.kill9();
      out = Json{{"ok", true}, {"result", nullptr}};
    } else if (cmd == "state") {
      out = Json{{"ok", true},
                 {"result",
                  {{"running", srv.running()},
                   {"port", srv.port()},
                   {"url", srv.url()},
                   {"pid", static_cast<long>(srv.pid())},
                   {"dir", srv.temp_dir()}}}};
    } else if (cmd == "set_flags") {
      out = answer(srv.set_flags(read_file(rest)));
    } else if (cmd == "set_flags_raw") {
      out = answer(srv.set_flags_raw(read_file(rest)));
    } else if (cmd == "set_mode") {
      out = answer(srv.set_mode(rest));
    } else if (cmd == "set_now") {
      out = answer(srv.set_now(std::stod(rest)));
    } else if (cmd == "clear_now") {
      out = answer(srv.clear_now());
    } else if (cmd == "keepalive") {
      out = answer(srv.set_keep_alive_ms(std::stoi(rest)));
    } else if (cmd == "auth") {
      out = answer(srv.set_auth_token(rest));
    } else if (cmd == "clear_auth") {
      out = answer(srv.clear_auth());
    } else if (cmd == "stats") {
      out = answer(srv.stats());
    } else if (cmd == "stop_streams") {
      out = answer(srv.stop_streams(rest == "abrupt"));
    } else if (cmd == "reset") {
      out = answer(srv.reset());
    } else if (cmd == "count") {
      out = Json{{"ok", true}, {"result", srv.request_count(rest)}};
    } else if (cmd == "wait") {
      std::istringstream args(rest);
      std::string path;
      int n = 0;
      args >> path >> n;
      out = Json{{"ok", true}, {"result", srv.wait_for_requests(path, n)}};
    } else if (cmd == "http") {
      std::istringstream args(rest);
      std::string method;
      std::string target;
      args >> method >> target;
      std::string body;
      std::getline(args >> std::ws, body);
      auto r = ff::testing::simple_http(srv.port(), method, target, body);
      if (r.ok()) {
        Json headers = Json::object();
        for (const auto& [k, v] : r->headers) headers[k] = v;
        out = Json{{"ok", true},
                   {"result", {{"status", r->status}, {"headers", headers}, {"body", r->body}}}};
      } else {
        out = Json{{"ok", false},
                   {"error", {{"code", r.error().code}, {"message", r.error().message}}}};
      }
    } else {
      out = Json{{"ok", false}, {"error", {{"code", "usage"}, {"message", "unknown: " + cmd}}}};
    }
    std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << std::endl;
  }
  return 0;
}
