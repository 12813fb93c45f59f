#include "agent/app/config.h"

#include <gtest/gtest.h>

#include "agent/app/daemon.h"

namespace ff::app {
namespace {

using namespace std::chrono_literals;

TEST(Config, ParsesAFullFile) {
  auto c = parse_config(R"(
upstream:
  mode: ofrep
  url: https://flags.example.net:8016
  headers: {X-Team: sre}
  bearer_token_file: /etc/fleetflag/token
  selector: fleet
  timeout: 5s
  tls: {ca_file: /etc/fleetflag/ca.pem, verify: true}
sync:
  interval: 45s
  jitter: 0.3
  backoff_max: 10m
context:
  targeting_key: host-17
  attributes:
    owner: acme
    tier: paying
    cores: 8
    canary: false
    quoted: "123"
api:
  socket: /tmp/x.sock
  socket_mode: "0640"
  tcp: 127.0.0.1:8016
state_dir: /tmp/state
log_level: debug
)");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->upstream.mode, sync::Mode::kOfrep);
  EXPECT_EQ(c->upstream.url, "https://flags.example.net:8016");
  EXPECT_EQ(c->upstream.headers.at(0).first, "X-Team");
  EXPECT_EQ(c->upstream.timeout, 5s);
  EXPECT_EQ(c->upstream.tls.ca_file, "/etc/fleetflag/ca.pem");
  EXPECT_EQ(c->sync.interval, 45s);
  EXPECT_DOUBLE_EQ(c->sync.jitter, 0.3);
  EXPECT_EQ(c->sync.backoff_max, 600s);
  EXPECT_EQ(c->context.attributes["tier"], "paying");
  EXPECT_EQ(c->context.attributes["cores"], 8);
  EXPECT_EQ(c->context.attributes["canary"], false);
  EXPECT_EQ(c->context.attributes["quoted"], "123");
  EXPECT_EQ(c->api.socket_mode, 0640u);
  EXPECT_EQ(c->api.tcp_address, "127.0.0.1");
  EXPECT_EQ(c->api.tcp_port, 8016);
  EXPECT_EQ(c->log_level, "debug");
}

TEST(Config, UnknownKeysAreErrorsNamingTheKey) {
  auto c = parse_config("upstream:\n  url: x\n  intervall: 5s\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().path, "upstream.intervall");
}

TEST(Config, BadValuesAreErrors) {
  EXPECT_FALSE(parse_config("upstream: {mode: carrier-pigeon, url: x}").ok());
  EXPECT_FALSE(parse_config("sync: {interval: soon}").ok());
  EXPECT_FALSE(parse_config("api: {tcp: \"0.0.0.0:80\"}").ok()) << "loopback only";
  EXPECT_FALSE(parse_config("log_level: chatty").ok());
  EXPECT_FALSE(parse_config("upstream: [1, 2").ok()) << "malformed YAML";
}

TEST(Config, CheckRequiresAnUpstreamOrBootstrap) {
  auto c = parse_config("");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(check_config(*c).ok());
  c->bootstrap_definitions = "/etc/fleetflag/bootstrap.json";
  EXPECT_TRUE(check_config(*c).ok());
}

TEST(Config, Durations) {
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("1h"), 3600s);
  EXPECT_EQ(parse_duration("15"), 15s);
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("5 s").has_value());
  EXPECT_FALSE(parse_duration("-5s").has_value());
}

TEST(Context, TargetingKeyFallsBackFromConfigToMachineIdToHostname) {
  ContextConfig c;
  c.targeting_key = "configured";
  EXPECT_EQ(build_context(c)["targetingKey"], "configured");
  char path[] = "/tmp/ffmid.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "0123456789abcdef\n", 17), 17);
  close(fd);
  c.targeting_key.clear();
  c.machine_id_path = path;
  c.attributes = Json{{"owner", "acme"}, {"targetingKey", "ignored"}};
  const Json ctx = build_context(c);
  EXPECT_EQ(ctx["targetingKey"], "0123456789abcdef");
  EXPECT_EQ(ctx["owner"], "acme");
  unlink(path);
  c.machine_id_path = "/nonexistent/machine-id";
  EXPECT_FALSE(build_context(c)["targetingKey"].get<std::string>().empty());
}

}  // namespace
}  // namespace ff::app
