#include "agent/app/daemon.h"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "agent/api/server.h"
#include "agent/app/agent.h"
#include "agent/context/context.h"

namespace ff::app {
namespace {

// systemd readiness (Type=notify): one datagram to $NOTIFY_SOCKET. A few lines instead of a
// libsystemd dependency; abstract socket names start with '@'.
void sd_notify(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) {
    ::close(fd);
    return;
  }
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  (void)::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), addr_len);
  ::close(fd);
}

}  // namespace

int run_daemon(int argc, char** argv) {
  CLI::App cli{"fleetflagd: the fleetflag on-host agent"};
  std::string config_path = "/etc/fleetflag/agent.yaml";
  bool config_check = false;
  std::string socket, state_dir, mode, url, bootstrap, tcp, log_level, interval;
  std::vector<std::string> attributes;
  cli.add_option("-c,--config", config_path, "YAML configuration file");
  cli.add_flag("--config-check", config_check, "validate the configuration and exit");
  cli.add_option("--socket", socket, "Unix socket path (api.socket)");
  cli.add_option("--state-dir", state_dir, "state directory (state_dir)");
  cli.add_option("--mode", mode, "upstream mode: ofrep | flagd | definitions");
  cli.add_option("--url", url, "upstream URL or definitions file");
  cli.add_option("--bootstrap", bootstrap, "bootstrap definitions file for a new host");
  cli.add_option("--tcp", tcp, "loopback TCP listener ADDRESS:PORT for OFREP clients");
  cli.add_option("--interval", interval, "poll interval (sync.interval), e.g. 30s");
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  cli.add_option("--attribute", attributes, "context attribute KEY=VALUE (repeatable)");
  CLI11_PARSE(cli, argc, argv);

  // File first, then command-line overrides; SIGHUP re-runs this so overrides survive reloads.
  auto build_config = [&]() -> Result<AgentConfig> {
    std::string yaml;
    if (std::filesystem::exists(config_path)) {
      std::ifstream in(config_path);
      yaml.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else if (cli.get_option("--config")->count() > 0) {
      return Error{"config", "config file " + config_path + " not found", ""};
    }
    auto parsed = parse_config(yaml);
    if (!parsed) {
      Error e = parsed.error();
      e.message = config_path + ": " + e.message;
      return e;
    }
    AgentConfig cfg = std::move(*parsed);
    if (!socket.empty()) cfg.api.socket_path = socket;
    if (!state_dir.empty()) cfg.state_dir = state_dir;
    if (!url.empty()) cfg.upstream.url = url;
    if (!bootstrap.empty()) cfg.bootstrap_definitions = bootstrap;
    if (!log_level.empty()) cfg.log_level = log_level;
    if (!mode.empty()) {
      if (mode == "ofrep") {
        cfg.upstream.mode = sync::Mode::kOfrep;
      } else if (mode == "flagd") {
        cfg.upstream.mode = sync::Mode::kFlagd;
      } else if (mode == "definitions") {
        cfg.upstream.mode = sync::Mode::kDefinitions;
      } else {
        return Error{"config", "--mode must be ofrep, flagd or definitions", ""};
      }
    }
    if (!interval.empty()) {
      const auto d = parse_duration(interval);
      if (!d) {
        return Error{"config", "--interval: bad duration " + interval, ""};
      }
      if (d->count() < 100) return Error{"config", "--interval must be at least 100ms", ""};
      cfg.sync.interval = *d;
    }
    if (!tcp.empty()) {
      auto t = parse_config("api: {tcp: \"" + tcp + "\"}");
      if (!t) {
        return Error{"config", "--tcp: " + t.error().message, ""};
      }
      cfg.api.tcp_address = t->api.tcp_address;
      cfg.api.tcp_port = t->api.tcp_port;
    }
    for (const auto& kv : attributes) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Error{"config", "--attribute needs KEY=VALUE", ""};
      }
      if (is_reserved_attribute(kv.substr(0, eq))) {
        return Error{"config", "--attribute " + kv.substr(0, eq) + " is reserved", ""};
      }
      cfg.context.attributes[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return cfg;
  };
  auto built = build_config();
  if (!built) {
    std::fprintf(stderr, "fleetflagd: %s\n", built.error().to_string().c_str());
    return 2;
  }
  AgentConfig cfg = std::move(*built);
  if (auto checked = check_config(cfg); !checked) {
    std::fprintf(stderr, "fleetflagd: %s\n", checked.error().to_string().c_str());
    return 2;
  }
  auto upstream = cfg.upstream.url.empty()
                      ? Result<std::unique_ptr<sync::Upstream>>(std::unique_ptr<sync::Upstream>())
                      : sync::make_upstream(cfg.upstream);
  if (!upstream) {
    std::fprintf(stderr, "fleetflagd: upstream: %s\n", upstream.error().to_string().c_str());
    return 2;
  }
  if (!cfg.context.time_zone.empty()) {
    if (auto tz = context::time_fields(cfg.context.time_zone, std::chrono::system_clock::now());
        !tz) {
      std::fprintf(stderr, "fleetflagd: context.time_zone: %s\n", tz.error().to_string().c_str());
      return 2;
    }
  }
  if (config_check) {
    std::printf("%s\n", describe(cfg).dump(2).c_str());
    std::printf("configuration ok\n");
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("fleetflagd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");

  // Signals are handled synchronously by this thread (sigwait); every other thread inherits
  // the blocked mask, so no handler ever runs inside library code.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  store::OpenReport report;
  std::unique_ptr<store::Store> store;
  auto opened = store::open_sqlite(cfg.state_dir + "/cache.db", clock.now_unix_ms(), &report);
  if (!opened) {
    spdlog::error("cache {}/cache.db unusable: {}; serving from memory only", cfg.state_dir,
                  opened.error().to_string());
  } else {
    store = std::move(*opened);
    if (report.recovered) {
      spdlog::critical("cache was corrupt ({}); moved aside to {} and rebuilt", report.detail,
                       report.moved_to);
    }
  }

  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  std::mutex rng_mu;
  auto random = [&]() {
    std::lock_guard<std::mutex> l(rng_mu);
    return dist(rng);
  };

  const auto started = std::chrono::steady_clock::now();
  // Facts and attribute files now; providers on the sync thread once the cache is served (a
  // slow provider must not delay start-up). SIGHUP reloads run them at once.
  context::ContextOptions start_options = context_options(cfg.context);
  start_options.defer_providers = true;
  auto builder = context::ContextBuilder::create(std::move(start_options), clock);
  if (!builder) {
    spdlog::critical("context: {}", builder.error().to_string());
    return 2;
  }
  Agent agent(cfg, clock, std::move(store), std::move(*upstream), std::move(*builder), random);
  agent.load_cache();

  struct Backend : api::OfrepBackend {
    Agent& agent;
    explicit Backend(Agent& a) : agent(a) {}
    std::optional<Json> evaluate_all(const Json& ctx) override { return agent.evaluate_for(ctx); }
  } backend(agent);
  api::Views views;
  std::atomic<std::uint16_t> tcp_port{0};
  views.status_extra = [&agent, &report, &tcp_port]() {
    Json j = agent.status_extra();
    if (tcp_port != 0) j["tcpPort"] = tcp_port.load();
    if (report.recovered) {
      j["cache"]["recoveredFromCorruption"] =
          Json{{"movedTo", report.moved_to}, {"detail", report.detail}};
    }
    return j;
  };
  views.context = [&agent]() { return agent.context_view(); };

  std::filesystem::create_directories(std::filesystem::path(cfg.api.socket_path).parent_path(), ec);
  api::Server server(cfg.api, agent.state(), clock, &backend, views);
  auto started_ok = server.start();
  if (!started_ok) {
    spdlog::critical("cannot serve on {}: {}", cfg.api.socket_path, started_ok.error().to_string());
    return 1;
  }
  tcp_port = server.tcp_port();
  const auto startup_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  spdlog::info("serving on {}{} ({} mode, upstream {}), ready in {} us", cfg.api.socket_path,
               server.tcp_port() ? " and tcp port " + std::to_string(server.tcp_port()) : "",
               sync::to_string(cfg.upstream.mode), cfg.upstream.url, startup_us);
  sd_notify("READY=1\nSTATUS=serving\n");

  std::thread sync_thread([&agent]() { agent.run(); });
  std::atomic<bool> stream_stop{false};
  std::thread stream_thread;
  if (cfg.upstream.mode == sync::Mode::kFlagd && cfg.sync.event_stream) {
    stream_thread = std::thread([&]() {
      std::uint32_t failures = 0;
      while (!stream_stop) {
        const auto err =
            sync::run_event_stream(cfg.upstream, stream_stop, [&](const std::string& type) {
              // The first provider_ready of a stream means it is connected.
              if (type == "provider_ready") agent.set_stream_connected(true);
              if (type == "configuration_change" || type == "provider_ready") {
                failures = 0;
                agent.wake();
              }
            });
        agent.set_stream_connected(false);  // returning means the stream is gone
        if (stream_stop) break;
        ++failures;
        spdlog::info("event stream ended: {}; polling meanwhile", err.message);
        const auto delay =
            sync::backoff_delay(failures, cfg.sync.backoff_base, cfg.sync.backoff_max, random());
        const auto until = std::chrono::steady_clock::now() + delay;
        while (!stream_stop && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    });
  }

  int sig = 0;
  while (true) {
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", config_path);
      auto fresh = build_config();
      if (!fresh) {
        spdlog::error("reload refused, keeping the running configuration: {}",
                      fresh.error().to_string());
        continue;
      }
      if (auto r = agent.reload_context(context_options(fresh->context)); !r) {
        spdlog::error("context reload: {}", r.error().to_string());
      }
      if (fresh->upstream.url != cfg.upstream.url || fresh->upstream.mode != cfg.upstream.mode ||
          fresh->api.socket_path != cfg.api.socket_path ||
          fresh->context.canary_window != cfg.context.canary_window) {
        spdlog::warn("upstream/socket/canary_window changes take effect at the next restart");
      }
      agent.wake();
      continue;
    }
    spdlog::info("{}: draining and exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  sd_notify("STOPPING=1\n");
  stream_stop = true;
  agent.stop();
  server.stop(std::chrono::milliseconds(5000));
  sync_thread.join();
  if (stream_thread.joinable()) stream_thread.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace ff::app
