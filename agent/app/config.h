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
#include "agent/context/context.h"
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

// `context:` of agent.yaml. Everything but canary_window is handed to the ContextBuilder
// (agent/context/context.h); see context_options().
struct ContextConfig {
  std::string targeting_key;  // empty: /etc/machine-id, else the FQDN
  std::string machine_id_path = "/etc/machine-id";
  // Static attributes (owner, tier, region, ...). The reserved top-level keys targetingKey,
  // host, time and canary are refused when the config is parsed.
  Json attributes = Json::object();
  std::string context_dir = "/etc/fleetflag/context.d";
  std::string providers_dir = "/etc/fleetflag/providers.d";
  std::string time_zone;  // IANA name; empty: the host's zone
  context::ProviderOptions provider_defaults;
  // Per provider file name; keys a provider does not set come from provider_defaults.
  std::map<std::string, context::ProviderOptions> providers;
  // Canary fatigue: how far back `canary.count` looks.
  std::chrono::milliseconds canary_window{std::chrono::hours(24 * 180)};
};

// Top-level context keys only the agent sets: targetingKey, host, time, canary.
bool is_reserved_attribute(const std::string& key);

// The ContextBuilder's options for this config.
context::ContextOptions context_options(const ContextConfig& config);

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

// "30s", "500ms", "5m", "1h", "180d", or a plain number of seconds.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

// A summary of the effective configuration for logs and /v1/status (no secrets).
Json describe(const AgentConfig& config);

}  // namespace ff::app
