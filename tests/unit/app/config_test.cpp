#include "agent/app/config.h"

#include <gtest/gtest.h>

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
    on_call: false
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
  EXPECT_EQ(c->context.attributes["on_call"], false);
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
  EXPECT_EQ(parse_duration("180d"), std::chrono::hours(24 * 180));
  EXPECT_EQ(parse_duration("1.5d"), 36h);
}

TEST(Config, ContextKeys) {
  auto c = parse_config(R"(
context:
  targeting_key: host-17
  machine_id_path: /tmp/mid
  context_dir: /tmp/ctx.d
  providers_dir: /tmp/prov.d
  time_zone: Europe/Paris
  providers:
    gpu: {timeout: 2s, retry: 30s, env: {GPU_VENDOR: nvidia}}
    slow: {ttl: 1h, max_output: 1024}
  provider_defaults: {timeout: 3s, ttl: 10m, max_output: 4096}
  canary_window: 90d
)");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  const auto& x = c->context;
  EXPECT_EQ(x.context_dir, "/tmp/ctx.d");
  EXPECT_EQ(x.providers_dir, "/tmp/prov.d");
  EXPECT_EQ(x.time_zone, "Europe/Paris");
  EXPECT_EQ(x.provider_defaults.timeout, 3s);
  EXPECT_EQ(x.provider_defaults.ttl, 600s);
  EXPECT_EQ(x.provider_defaults.max_output, 4096u);
  // A provider entry overrides what it names and takes the rest from provider_defaults, even
  // when provider_defaults comes later in the file.
  EXPECT_EQ(x.providers.at("gpu").timeout, 2s);
  EXPECT_EQ(x.providers.at("gpu").ttl, 600s);
  EXPECT_EQ(x.providers.at("gpu").retry, 30s);
  EXPECT_EQ(x.providers.at("gpu").env.at("GPU_VENDOR"), "nvidia");
  EXPECT_EQ(x.providers.at("slow").timeout, 3s);
  EXPECT_EQ(x.providers.at("slow").ttl, 3600s);
  EXPECT_EQ(x.providers.at("slow").max_output, 1024u);
  EXPECT_EQ(x.canary_window, std::chrono::hours(24 * 90));

  const context::ContextOptions o = context_options(x);
  EXPECT_EQ(o.targeting_key, "host-17");
  EXPECT_EQ(o.machine_id_path, "/tmp/mid");
  EXPECT_EQ(o.context_dir, "/tmp/ctx.d");
  EXPECT_EQ(o.providers_dir, "/tmp/prov.d");
  EXPECT_EQ(o.time_zone, "Europe/Paris");
  EXPECT_EQ(o.providers.at("gpu").timeout, 2s);
  EXPECT_EQ(o.provider_defaults.max_output, 4096u);

  const Json d = describe(*c)["context"];
  EXPECT_EQ(d["timeZone"], "Europe/Paris");
  EXPECT_EQ(d["canaryWindowMs"], 90LL * 86400000);
  EXPECT_EQ(d["providers"]["gpu"]["timeoutMs"], 2000);
}

TEST(Config, ContextDefaults) {
  auto c = parse_config("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->context.context_dir, "/etc/fleetflag/context.d");
  EXPECT_EQ(c->context.providers_dir, "/etc/fleetflag/providers.d");
  EXPECT_EQ(c->context.time_zone, "");
  EXPECT_EQ(c->context.canary_window, std::chrono::hours(24 * 180));
  EXPECT_TRUE(c->context.providers.empty());
}

TEST(Config, ContextErrorsNameTheKey) {
  auto path_of = [](const char* yaml) {
    auto c = parse_config(yaml);
    return c.ok() ? std::string("<ok>") : c.error().path;
  };
  EXPECT_EQ(path_of("context: {time_zne: UTC}"), "context.time_zne");
  EXPECT_EQ(path_of("context: {providers: {gpu: {timout: 1s}}}"), "context.providers.gpu.timout");
  EXPECT_EQ(path_of("context: {providers: {gpu: {timeout: soon}}}"),
            "context.providers.gpu.timeout");
  EXPECT_EQ(path_of("context: {provider_defaults: {max_output: -1}}"),
            "context.provider_defaults.max_output");
  EXPECT_EQ(path_of("context: {provider_defaults: {max_output: lots}}"),
            "context.provider_defaults.max_output");
  EXPECT_EQ(path_of("context: {canary_window: 0d}"), "context.canary_window");
  EXPECT_EQ(path_of("context: {providers: {gpu: {env: {A: [1]}}}}"), "context.providers.gpu.env.A");
  EXPECT_EQ(path_of("context: {providers: [a, b]}"), "context.providers");
  for (const char* key : {"targetingKey", "host", "time", "canary"}) {
    EXPECT_EQ(path_of(("context: {attributes: {" + std::string(key) + ": 1}}").c_str()),
              "context.attributes." + std::string(key));
  }
}

}  // namespace
}  // namespace ff::app
