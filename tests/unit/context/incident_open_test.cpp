// The shipped examples/providers.d/incident_open script, run by the real ContextBuilder against
// a local ticketing API stub (plain POSIX sockets, 127.0.0.1, port 0).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "agent/context/context.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/context/context_test_util.h"

namespace ff::context {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;

// Answers every request with the configured status and body; remembers the last request line
// and headers. stop() (or the destructor) ends the accept loop and closes the port.
class TicketApiStub {
 public:
  TicketApiStub() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("bind/listen failed");
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    thread_ = std::thread([this] { serve(); });
  }
  ~TicketApiStub() { stop(); }
  TicketApiStub(const TicketApiStub&) = delete;
  TicketApiStub& operator=(const TicketApiStub&) = delete;

  int port() const { return port_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/incidents/open";
  }
  void answer(int status, std::string body) {
    std::lock_guard<std::mutex> l(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  std::string last_request() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_request_;
  }
  int requests() const { return requests_.load(); }
  void stop() {
    if (!thread_.joinable()) return;
    char c = 'x';
    (void)!::write(stop_pipe_[1], &c, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }

 private:
  void serve() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if ((fds[1].revents & POLLIN) != 0) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      int status = 0;
      std::string body;
      {
        std::lock_guard<std::mutex> l(mu_);
        last_request_ = request.substr(0, request.find("\r\n\r\n"));
        status = status_;
        body = body_;
      }
      ++requests_;
      std::string response = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " +
                             "application/json\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body;
      (void)!::write(fd, response.data(), response.size());
      ::close(fd);
    }
  }

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  int status_ = 200;
  std::string body_ = R"({"open": false})";
  std::string last_request_;
  std::atomic<int> requests_{0};
};

class IncidentOpenTest : public ::testing::Test {
 protected:
  IncidentOpenTest() {
    std::filesystem::create_directories(root_.file("providers.d"));
    std::filesystem::copy_file(std::string(FF_SOURCE_DIR) + "/examples/providers.d/incident_open",
                               root_.file("providers.d/incident_open"));
    ::chmod(root_.file("providers.d/incident_open").c_str(), 0755);
  }
  ContextOptions options() const {
    ContextOptions o;
    o.root = root_.path();
    o.context_dir = root_.file("context.d");
    o.providers_dir = root_.file("providers.d");
    o.time_zone = "UTC";
    o.targeting_key = "host-1";
    o.provider_defaults.ttl = milliseconds(60000);
    o.provider_defaults.retry = milliseconds(60000);
    return o;
  }
  void write_conf(const std::string& extra = "") {
    root_.write(
        "providers.d/incident_open.conf",
        "# settings\nurl=" + api_.url() + "\nhost = web-1.example.com\ntimeout=5\n" + extra);
  }
  Json provider_errors(const HostContext& c) const {
    Json out = Json::array();
    for (const auto& e : c.errors) {
      if (e["source"] == "provider:incident_open") out.push_back(e);
    }
    return out;
  }

  ff::testing::FakeClock clock_;
  TempDir root_;
  TicketApiStub api_;
};

TEST_F(IncidentOpenTest, OpenIncident) {
  write_conf();
  api_.answer(200, R"({"host": "web-1.example.com", "open": true, "tickets": ["INC-42"]})");
  auto b = ContextBuilder::create(options(), clock_);
  ASSERT_TRUE(b.ok());
  HostContext c = (*b)->current();
  EXPECT_EQ(c.context["incident_open"], true) << c.errors.dump();
  EXPECT_EQ(c.sources["incident_open"], "provider:incident_open");
  EXPECT_TRUE(c.errors.empty()) << c.errors.dump();
  // The conf file was used: the host name and path reached the API.
  EXPECT_EQ(api_.last_request().rfind("GET /api/v1/incidents/open?host=web-1.example.com ", 0), 0u)
      << api_.last_request();
}

TEST_F(IncidentOpenTest, NoIncident) {
  write_conf();
  api_.answer(200, "{\n  \"open\" : false\n}\n");
  auto b = ContextBuilder::create(options(), clock_);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->current().context["incident_open"], false);
}

TEST_F(IncidentOpenTest, ApiDownKeepsTheLastValue) {
  write_conf();
  api_.answer(200, R"({"open": true})");
  auto b = ContextBuilder::create(options(), clock_);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ((*b)->current().context["incident_open"], true);

  // Server error: non-zero exit, last value kept, failure visible.
  api_.answer(503, R"({"error": "maintenance"})");
  clock_.advance(milliseconds(60000));
  EXPECT_FALSE((*b)->refresh());
  HostContext c = (*b)->current();
  EXPECT_EQ(c.context["incident_open"], true);
  ASSERT_EQ(provider_errors(c).size(), 1u) << c.errors.dump();
  EXPECT_NE(provider_errors(c)[0]["message"].get<std::string>().find("exit status 1"),
            std::string::npos)
      << c.errors.dump();

  // An answer without a clear boolean is a failure too, not "false".
  api_.answer(200, R"({"status": "unknown"})");
  clock_.advance(milliseconds(60000));
  EXPECT_FALSE((*b)->refresh());
  EXPECT_EQ((*b)->current().context["incident_open"], true);
  EXPECT_EQ(provider_errors((*b)->current()).size(), 1u);

  // Nothing listening any more (connection refused).
  int before = api_.requests();
  api_.stop();
  clock_.advance(milliseconds(60000));
  EXPECT_FALSE((*b)->refresh());
  c = (*b)->current();
  EXPECT_EQ(c.context["incident_open"], true);
  EXPECT_EQ(provider_errors(c).size(), 1u);
  EXPECT_EQ(api_.requests(), before);
}

TEST_F(IncidentOpenTest, EnvironmentOverridesTheFileAndMissingUrlFails) {
  auto o = options();
  auto b = ContextBuilder::create(o, clock_);  // no conf, no env: fails, no value
  ASSERT_TRUE(b.ok());
  HostContext c = (*b)->current();
  EXPECT_FALSE(c.context.contains("incident_open"));
  ASSERT_EQ(provider_errors(c).size(), 1u);
  EXPECT_NE(provider_errors(c)[0]["message"].get<std::string>().find("no url"), std::string::npos);

  root_.write("providers.d/incident_open.conf", "url=http://127.0.0.1:1/unused\n");
  o.provider_defaults.env["FLEETFLAG_INCIDENT_URL"] = api_.url();
  o.provider_defaults.env["FLEETFLAG_INCIDENT_HOST"] = "db 7";  // form-encoded: "db+7"
  api_.answer(200, R"({"open": true})");
  ASSERT_TRUE((*b)->reload(o).ok());
  EXPECT_EQ((*b)->current().context["incident_open"], true);
  EXPECT_NE(api_.last_request().find("?host=db+7 "), std::string::npos) << api_.last_request();
}

TEST_F(IncidentOpenTest, HeaderFileIsSent) {
  root_.write("incident.headers", "Authorization: Bearer s3cret\n");
  write_conf("header_file=" + root_.file("incident.headers") + "\n");
  api_.answer(200, R"({"open": false})");
  auto b = ContextBuilder::create(options(), clock_);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->current().context["incident_open"], false);
  EXPECT_NE(api_.last_request().find("Authorization: Bearer s3cret"), std::string::npos);
}

}  // namespace
}  // namespace ff::context
