// A scripted HTTP/1.1 peer for client tests: listens on 127.0.0.1:0 and runs a test-supplied
// handler per connection on its own thread. The handler reads the request and writes whatever
// bytes it wants, with pauses, so that timeouts, chunking, truncation and garbage can be
// produced exactly. POSIX sockets only (no Boost), header-only so test_sync can use it too.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ff::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class ScriptServer;

class ScriptConn {
 public:
  ScriptConn(int fd, ScriptServer& server) : fd_(fd), server_(server) {}

  // Reads one request (headers and a Content-Length body). Empty on EOF, error or 5 s silence.
  std::optional<RecordedRequest> read_request();
  // Sends all bytes; false when the peer is gone.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Sleeps, returning early (false) when the server is being destroyed.
  bool pause(std::chrono::milliseconds d);
  // Waits until the peer closes the connection or the server is destroyed.
  void hold() {
    while (pause(std::chrono::milliseconds(20))) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        char c[256];
        if (::recv(fd_, c, sizeof c, MSG_DONTWAIT) <= 0) return;
      }
    }
  }
  // Waits until the peer has closed the connection (EOF or error), up to `limit`.
  bool wait_peer_closed(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        char c[256];
        const ssize_t n = ::recv(fd_, c, sizeof c, MSG_DONTWAIT);
        if (n <= 0) return true;
      }
    }
    return false;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  ScriptServer& server_;
  std::string pending_;
};

class ScriptServer {
 public:
  using Handler = std::function<void(ScriptConn&)>;

  explicit ScriptServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("bind/listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~ScriptServer() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
      for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    acceptor_.join();
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
  }

  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;

  int port() const { return port_; }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

 private:
  friend class ScriptConn;

  void accept_loop() {
    while (true) {
      pollfd p{listen_fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, 20);
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stopping_) return;
      }
      if (r <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      std::lock_guard<std::mutex> l(mu_);
      conn_fds_.push_back(fd);
      workers_.emplace_back([this, fd] {
        ScriptConn conn(fd, *this);
        try {
          handler_(conn);
        } catch (...) {
        }
        ::shutdown(fd, SHUT_RDWR);
        std::lock_guard<std::mutex> l2(mu_);
        conn_fds_.erase(std::find(conn_fds_.begin(), conn_fds_.end(), fd));
        ::close(fd);
      });
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<int> conn_fds_;
  std::vector<RecordedRequest> requests_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

inline bool ScriptConn::pause(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(server_.mu_);
  server_.cv_.wait_for(l, d, [this] { return server_.stopping_; });
  return !server_.stopping_;
}

inline std::optional<RecordedRequest> ScriptConn::read_request() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto fill = [&]() -> bool {
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, 20);
      if (r < 0) return false;
      if (r == 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      pending_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  };
  std::size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  RecordedRequest req;
  const std::string head = pending_.substr(0, end);
  pending_.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string first = head.substr(0, line_end);
  const auto sp1 = first.find(' ');
  const auto sp2 = first.rfind(' ');
  req.method = first.substr(0, sp1);
  req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    req.headers[name] = value;
  }
  std::size_t length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
    length = std::stoul(it->second);
  }
  while (pending_.size() < length) {
    if (!fill()) return std::nullopt;
  }
  req.body = pending_.substr(0, length);
  pending_.erase(0, length);
  std::lock_guard<std::mutex> l(server_.mu_);
  server_.requests_.push_back(req);
  return req;
}

// A complete response with Content-Length.
inline std::string simple_response(int status, std::string_view body,
                                   std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

inline std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

}  // namespace ff::testing
