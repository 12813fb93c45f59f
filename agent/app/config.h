// fleetflagd configuration: /etc/fleetflag/agent.yaml, overridable by command-line flags.
//
// Loading a config is the one place where exceptions are allowed (fatal start-up
// configuration); load_config() catches them and returns an Error naming the key.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "agent/api/server.h"
#include "agent/sync/upstream.h"
#include "common/json/json.h"

namespace ff::app {

struct SyncConfig {
  std::chrono::milliseconds interval{30000};
  double jitter = 0.2;  // +-20% of the interval, so a fleet does not poll in step
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{300000};
  // definitions mode: how often answers are re-evaluated so time-based rules keep moving.
  std::chrono::milliseconds reevaluate{60000};
  bool event_stream = true;  // flagd mode: refresh at once on configuration_change
};

struct ContextConfig {
  std::string targeting_key;  // empty: /etc/machine-id, else the FQDN
  std::string machine_id_path = "/etc/machine-id";
  Json attributes = Json::object();  // static attributes (owner, tier, region, ...)
};

struct AgentConfig {
  sync::UpstreamConfig upstream;
  SyncConfig sync;
  ContextConfig context;
  api::ServerOptions api;
  std::string state_dir = "/var/lib/fleetflag";
  std::string bootstrap_definitions;  // seeds a brand-new host with no cache and no upstream
  std::string log_level = "info";
};

// Parses YAML text. Unknown keys are errors (a typo must not silently change behaviour).
Result<AgentConfig> parse_config(const std::string& yaml_text);
// Checks what only the combination of file and command line can decide (an upstream or a
// bootstrap file must be given).
Result<bool> check_config(const AgentConfig& config);
// Reads and parses a file; a missing file is an error.
Result<AgentConfig> load_config(const std::string& path);

// "30s", "500ms", "5m", "1h", or a plain number of seconds.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

// A summary of the effective configuration for logs and /v1/status (no secrets).
Json describe(const AgentConfig& config);

}  // namespace ff::app
