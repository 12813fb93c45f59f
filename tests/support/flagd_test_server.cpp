#include "tests/support/flagd_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#ifndef FF_NODE_SERVER
#error "FF_NODE_SERVER must name tests/server/flagd-test-server.mjs (set by tests/support)"
#endif

extern char** environ;

namespace ff::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr auto kStopGrace = std::chrono::seconds(3);
constexpr auto kControlTimeout = std::chrono::milliseconds(10000);
constexpr int kExitAddrInUse = 3;  // the server's exit code for EADDRINUSE

Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message), {}};
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, left.count()));
}

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Waits for `events` on fd until the deadline. Returns false on timeout or poll error.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Decodes a complete chunked body; false when malformed or incomplete.
bool dechunk(std::string_view in, std::string& out) {
  out.clear();
  for (;;) {
    auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) return false;
    std::string size_text(in.substr(0, eol));
    if (auto semi = size_text.find(';'); semi != std::string::npos) size_text.resize(semi);
    char* end = nullptr;
    unsigned long size = std::strtoul(size_text.c_str(), &end, 16);
    if (end == size_text.c_str()) return false;
    in.remove_prefix(eol + 2);
    if (size == 0) return true;  // trailers ignored
    if (in.size() < size + 2) return false;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

// Parses a full response read until EOF (the request asked for Connection: close).
Result<SimpleHttpResponse> parse_response(const std::string& raw) {
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return make_error("http", "no complete response head");
  std::string_view head(raw.data(), head_end);
  std::string_view rest(raw.data() + head_end + 4, raw.size() - head_end - 4);

  SimpleHttpResponse r;
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
    return make_error("http", "bad status line: " + std::string(status_line));
  }
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    r.headers.emplace_back(std::string(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  if (iequals(r.header("Transfer-Encoding"), "chunked")) {
    if (!dechunk(rest, r.body)) return make_error("http", "truncated chunked body");
  } else if (auto cl = r.header("Content-Length"); !cl.empty()) {
    auto n = static_cast<std::size_t>(std::strtoull(cl.c_str(), nullptr, 10));
    if (rest.size() < n) return make_error("http", "body shorter than Content-Length");
    r.body.assign(rest.substr(0, n));
  } else {
    r.body.assign(rest);
  }
  return r;
}

}  // namespace

std::string SimpleHttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

Result<SimpleHttpResponse> simple_http(
    int port, std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.fd < 0) return make_error("connect", errno_text("socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return make_error("connect", errno_text("connect"));
    if (!wait_fd(sock.fd, POLLOUT, deadline)) return make_error("timeout", "connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return make_error("connect", std::string("connect: ") + std::strerror(err));
  }

  std::string req;
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  req.append("Host: 127.0.0.1:").append(std::to_string(port)).append("\r\n");
  req.append("Connection: close\r\n");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    has_type = has_type || iequals(k, "Content-Type");
    req.append(k).append(": ").append(v).append("\r\n");
  }
  if (!has_type && !body.empty()) req.append("Content-Type: application/json\r\n");
  req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  req.append(body);

  std::size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(sock.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(sock.fd, POLLOUT, deadline)) return make_error("timeout", "send timed out");
    } else {
      return make_error("io", errno_text("send"));
    }
  }

  std::string raw;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_fd(sock.fd, POLLIN, deadline)) return make_error("timeout", "response timed out");
    } else {
      return make_error("io", errno_text("recv"));
    }
  }
  return parse_response(raw);
}

FlagdTestServer::FlagdTestServer() = default;

FlagdTestServer::~FlagdTestServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string FlagdTestServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

Result<int> FlagdTestServer::start(std::string_view flags_json) {
  stop();
  flags_text_.assign(flags_json);
  return spawn(0);
}

Result<int> FlagdTestServer::restart() {
  int previous = port_;
  stop();
  auto r = spawn(previous);
  if (!r.ok() && previous != 0 && r.error().code == "exited" &&
      r.error().message.find("status 3") != std::string::npos) {
    return spawn(0);
  }
  return r;
}

Result<int> FlagdTestServer::spawn(int port) {
  if (dir_.empty()) {
    char tmpl[] = "/tmp/ff-ts-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return make_error("spawn", errno_text("mkdtemp"));
    dir_ = tmpl;
  }
  const std::string flags_path = dir_ + "/flags.json";
  {
    std::ofstream out(flags_path, std::ios::binary | std::ios::trunc);
    out << flags_text_;
    if (!out) return make_error("spawn", "cannot write " + flags_path);
  }

  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return make_error("spawn", errno_text("pipe2"));
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return make_error("spawn", errno_text("pipe2"));
  }

  const char* node_env = std::getenv("FF_NODE");
  std::string node = (node_env != nullptr && *node_env != '\0') ? node_env : "node";
  std::string script = FF_NODE_SERVER;
  std::string port_text = std::to_string(port);
  std::vector<std::string> args = {node,      script,   "--flags",   flags_path,           "--port",
                                   port_text, "--host", "127.0.0.1", "--exit-on-stdin-eof"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // dup2 onto 0/1 clears FD_CLOEXEC there; every other fd of ours stays close-on-exec.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, node.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    return make_error("spawn", "posix_spawnp " + node + ": " + std::strerror(rc));
  }
  pid_ = pid;
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];

  // Read the single {"port":N} line.
  const auto deadline = Clock::now() + kStartTimeout;
  std::string line;
  for (;;) {
    auto nl = line.find('\n');
    if (nl != std::string::npos) {
      line.resize(nl);
      break;
    }
    if (!wait_fd(stdout_fd_, POLLIN, deadline)) {
      kill9();
      return make_error("start_timeout", "test server printed no port line within 20 s");
    }
    char buf[256];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n > 0) {
      line.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      ::close(stdin_fd_);
      ::close(stdout_fd_);
      stdin_fd_ = stdout_fd_ = -1;
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return make_error("exited", "test server exited before listening, status " +
                                      std::to_string(code) + " (see stderr)");
    }
  }
  auto parsed = json::parse(line);
  if (!parsed.ok() || !parsed->is_object() || !parsed->contains("port") ||
      !(*parsed)["port"].is_number_integer()) {
    kill9();
    return make_error("http", "unexpected first line from test server: " + line);
  }
  port_ = (*parsed)["port"].get<int>();
  return port_;
}

void FlagdTestServer::reap(std::chrono::milliseconds grace) {
  const auto deadline = Clock::now() + grace;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdin_fd_ = stdout_fd_ = -1;
}

void FlagdTestServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  reap(kStopGrace);
}

void FlagdTestServer::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(std::chrono::milliseconds(0));
}

Result<Json> FlagdTestServer::control(std::string_view method, std::string_view path,
                                      std::string_view body) {
  if (pid_ <= 0) return make_error("control", "test server is not running");
  auto r = simple_http(port_, method, path, body, {}, kControlTimeout);
  if (!r.ok()) return r.error();
  if (r->status < 200 || r->status > 299) {
    return make_error("control", std::string(method) + " " + std::string(path) + " -> " +
                                     std::to_string(r->status) + " " + r->body);
  }
  auto parsed = json::parse(r->body);
  if (!parsed.ok()) return make_error("http", "control answer is not JSON: " + r->body);
  return std::move(*parsed);
}

Result<Json> FlagdTestServer::set_flags(std::string_view definitions_json) {
  auto r = control("PUT", "/_control/flags", definitions_json);
  if (r.ok()) flags_text_.assign(definitions_json);
  return r;
}

Result<Json> FlagdTestServer::set_flags_raw(std::string_view bytes) {
  return control("PUT", "/_control/flags?raw=1", bytes);
}

Result<Json> FlagdTestServer::set_mode(std::string_view mode_json) {
  return control("POST", "/_control/mode", mode_json);
}

Result<Json> FlagdTestServer::set_now(double unix_seconds) {
  return control("POST", "/_control/now", Json{{"now", unix_seconds}}.dump());
}

Result<Json> FlagdTestServer::clear_now() {
  return control("POST", "/_control/now", R"({"now":null})");
}

Result<Json> FlagdTestServer::set_keep_alive_ms(int ms) {
  return control("POST", "/_control/keepalive", Json{{"ms", ms}}.dump());
}

Result<Json> FlagdTestServer::set_auth_token(std::string_view token) {
  return control("POST", "/_control/auth", Json{{"token", std::string(token)}}.dump());
}

Result<Json> FlagdTestServer::clear_auth() {
  return control("POST", "/_control/auth", R"({"token":null})");
}

Result<Json> FlagdTestServer::stats() {
  return control("GET", "/_control/stats", {});
}

Result<Json> FlagdTestServer::stop_streams(bool abrupt) {
  return control("POST", "/_control/stop-streams", Json{{"abrupt", abrupt}}.dump());
}

Result<Json> FlagdTestServer::reset() {
  return control("POST", "/_control/reset", "{}");
}

int FlagdTestServer::request_count(std::string_view path) {
  auto s = stats();
  if (!s.ok()) return -1;
  const Json& requests = (*s)["requests"];
  auto it = requests.find(std::string(path));
  return it == requests.end() || !it->is_number_integer() ? 0 : it->get<int>();
}

int FlagdTestServer::wait_for_requests(std::string_view path, int n,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int count = request_count(path);
  while (count < n && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    count = request_count(path);
  }
  return count;
}

}  // namespace ff::testing
