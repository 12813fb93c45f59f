#include "agent/cli/socket_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace ff::cli {
namespace {

constexpr std::size_t kMaxResponse = 64u << 20;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool decode_chunked(const std::string& in, std::string& out) {
  std::size_t pos = 0;
  while (true) {
    const auto eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    std::size_t size = 0;
    try {
      size = std::stoul(in.substr(pos, eol - pos), nullptr, 16);
    } catch (const std::exception&) {
      return false;
    }
    pos = eol + 2;
    if (size == 0) return true;
    if (pos + size > in.size()) return false;
    out.append(in, pos, size);
    pos += size + 2;
  }
}

}  // namespace

std::string SocketResponse::header(const std::string& name) const {
  const std::string want = lower(name) + ":";
  std::size_t pos = 0;
  while (pos < header_block.size()) {
    auto eol = header_block.find("\r\n", pos);
    if (eol == std::string::npos) eol = header_block.size();
    const std::string line = header_block.substr(pos, eol - pos);
    if (lower(line.substr(0, want.size())) == want) {
      std::string v = line.substr(want.size());
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      return v;
    }
    pos = eol + 2;
  }
  return "";
}

Result<SocketResponse> socket_request(const std::string& socket_path, const std::string& method,
                                      const std::string& target, const std::string& body,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd s;
  s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return Error{"io", std::strerror(errno), ""};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Error{"connect", "socket path too long: " + socket_path, ""};
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Error{"connect",
                 "cannot connect to " + socket_path + ": " + std::strerror(errno) +
                     " (is fleetflagd running, and may you use its socket?)",
                 ""};
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: fleetflag\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  std::size_t sent = 0;
  while (sent < req.size()) {
    const auto n = ::send(s.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{"io", std::string("send: ") + std::strerror(errno), ""};
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[65536];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return Error{"timeout", "no complete answer from the agent in time", ""};
    pollfd p{s.fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (pr < 0 && errno != EINTR) return Error{"io", std::strerror(errno), ""};
    if (pr <= 0) continue;
    const auto n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{"io", std::string("recv: ") + std::strerror(errno), ""};
    }
    if (n == 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    if (raw.size() > kMaxResponse) return Error{"too_large", "answer too large", ""};
  }
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) {
    return Error{"protocol", "malformed HTTP answer", ""};
  }
  SocketResponse r;
  try {
    r.status = std::stoi(raw.substr(9, 3));
  } catch (const std::exception&) {
    return Error{"protocol", "malformed status line", ""};
  }
  const auto first_eol = raw.find("\r\n");
  r.header_block = raw.substr(first_eol + 2, head_end - first_eol - 2 + 2);
  std::string payload = raw.substr(head_end + 4);
  if (lower(r.header("Transfer-Encoding")) == "chunked") {
    if (!decode_chunked(payload, r.body)) return Error{"protocol", "bad chunked body", ""};
  } else {
    r.body = std::move(payload);
  }
  return r;
}

}  // namespace ff::cli
