#include "agent/app/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

namespace ff::app {
namespace {

struct ConfigError {
  std::string key;
  std::string message;
};

void check_keys(const YAML::Node& node, const std::string& where,
                const std::set<std::string>& allowed) {
  if (!node.IsMap()) throw ConfigError{where, "must be a mapping"};
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (allowed.count(key) == 0) {
      std::string path = where;
      if (!path.empty()) path += '.';
      path += key;
      throw ConfigError{path, "unknown key"};
    }
  }
}

std::string str(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw ConfigError{key, "must be a string"};
  return n.as<std::string>();
}

std::chrono::milliseconds duration(const YAML::Node& n, const std::string& key) {
  const auto d = parse_duration(str(n, key));
  if (!d) throw ConfigError{key, "must be a duration such as 30s, 500ms or 5m"};
  return *d;
}

// YAML scalars become JSON strings, numbers or booleans as YAML 1.2 core schema would read
// them; sequences and mappings recurse.
Json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) a.push_back(to_json(e));
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted: always a string
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "~" || s.empty()) return nullptr;
      auto num = json::parse(s);
      if (num && num->is_number()) return *num;
      return s;
    }
    default:
      return nullptr;
  }
}

void parse_upstream(const YAML::Node& n, sync::UpstreamConfig& u) {
  check_keys(n, "upstream",
             {"mode", "url", "headers", "bearer_token_file", "selector", "tls", "timeout",
              "max_body_bytes"});
  if (n["mode"]) {
    const auto m = str(n["mode"], "upstream.mode");
    if (m == "ofrep") {
      u.mode = sync::Mode::kOfrep;
    } else if (m == "flagd") {
      u.mode = sync::Mode::kFlagd;
    } else if (m == "definitions") {
      u.mode = sync::Mode::kDefinitions;
    } else {
      throw ConfigError{"upstream.mode", "must be ofrep, flagd or definitions"};
    }
  }
  if (n["url"]) u.url = str(n["url"], "upstream.url");
  if (n["headers"]) {
    if (!n["headers"].IsMap()) throw ConfigError{"upstream.headers", "must be a mapping"};
    for (const auto& kv : n["headers"]) {
      u.headers.emplace_back(kv.first.as<std::string>(), str(kv.second, "upstream.headers"));
    }
  }
  if (n["bearer_token_file"]) {
    u.bearer_token_file = str(n["bearer_token_file"], "upstream.bearer_token_file");
  }
  if (n["selector"]) u.selector = str(n["selector"], "upstream.selector");
  if (n["timeout"]) u.timeout = duration(n["timeout"], "upstream.timeout");
  if (n["max_body_bytes"]) u.max_body = n["max_body_bytes"].as<std::size_t>();
  if (n["tls"]) {
    const auto& t = n["tls"];
    check_keys(t, "upstream.tls", {"ca_file", "client_cert", "client_key", "verify"});
    if (t["ca_file"]) u.tls.ca_file = str(t["ca_file"], "upstream.tls.ca_file");
    if (t["client_cert"]) u.tls.client_cert = str(t["client_cert"], "upstream.tls.client_cert");
    if (t["client_key"]) u.tls.client_key = str(t["client_key"], "upstream.tls.client_key");
    if (t["verify"]) u.tls.verify = t["verify"].as<bool>();
  }
}

void parse_sync(const YAML::Node& n, SyncConfig& s) {
  check_keys(n, "sync",
             {"interval", "jitter", "backoff_base", "backoff_max", "reevaluate", "event_stream"});
  if (n["interval"]) s.interval = duration(n["interval"], "sync.interval");
  if (n["jitter"]) {
    s.jitter = n["jitter"].as<double>();
    if (s.jitter < 0 || s.jitter > 0.9) throw ConfigError{"sync.jitter", "must be in [0, 0.9]"};
  }
  if (n["backoff_base"]) s.backoff_base = duration(n["backoff_base"], "sync.backoff_base");
  if (n["backoff_max"]) s.backoff_max = duration(n["backoff_max"], "sync.backoff_max");
  if (n["reevaluate"]) s.reevaluate = duration(n["reevaluate"], "sync.reevaluate");
  if (n["event_stream"]) s.event_stream = n["event_stream"].as<bool>();
  if (s.interval.count() < 100) throw ConfigError{"sync.interval", "must be at least 100ms"};
}

void parse_api(const YAML::Node& n, api::ServerOptions& a) {
  check_keys(n, "api",
             {"socket", "socket_mode", "socket_group", "tcp", "max_connections", "max_body_bytes",
              "read_timeout", "idle_timeout", "max_wait", "threads"});
  if (n["socket"]) a.socket_path = str(n["socket"], "api.socket");
  if (n["socket_mode"]) {
    const auto m = str(n["socket_mode"], "api.socket_mode");
    try {
      a.socket_mode = static_cast<unsigned>(std::stoul(m, nullptr, 8));
    } catch (const std::exception&) {
      throw ConfigError{"api.socket_mode", "must be an octal mode such as 0660"};
    }
  }
  if (n["socket_group"]) a.socket_group = str(n["socket_group"], "api.socket_group");
  if (n["tcp"]) {
    const auto t = str(n["tcp"], "api.tcp");
    if (!t.empty()) {
      const auto colon = t.rfind(':');
      if (colon == std::string::npos) throw ConfigError{"api.tcp", "must be ADDRESS:PORT"};
      a.tcp_address = t.substr(0, colon);
      try {
        a.tcp_port = static_cast<std::uint16_t>(std::stoul(t.substr(colon + 1)));
      } catch (const std::exception&) {
        throw ConfigError{"api.tcp", "bad port"};
      }
      if (a.tcp_address != "127.0.0.1" && a.tcp_address != "::1" && a.tcp_address != "localhost") {
        throw ConfigError{"api.tcp", "the TCP listener is for loopback only"};
      }
    }
  }
  if (n["max_connections"]) a.max_connections = n["max_connections"].as<std::size_t>();
  if (n["max_body_bytes"]) a.max_body_bytes = n["max_body_bytes"].as<std::size_t>();
  if (n["read_timeout"]) a.read_timeout = duration(n["read_timeout"], "api.read_timeout");
  if (n["idle_timeout"]) a.idle_timeout = duration(n["idle_timeout"], "api.idle_timeout");
  if (n["max_wait"]) a.max_wait = duration(n["max_wait"], "api.max_wait");
  if (n["threads"]) a.threads = n["threads"].as<unsigned>();
}

std::size_t byte_count(const YAML::Node& n, const std::string& key) {
  try {
    const auto v = n.as<long long>();
    if (v <= 0) throw ConfigError{key, "must be a positive number of bytes"};
    return static_cast<std::size_t>(v);
  } catch (const YAML::Exception&) {
    throw ConfigError{key, "must be a positive number of bytes"};
  }
}

// Keys a provider entry may set; unset keys keep `base`.
context::ProviderOptions parse_provider(const YAML::Node& n, const std::string& where,
                                        context::ProviderOptions base) {
  check_keys(n, where, {"timeout", "ttl", "retry", "max_output", "env"});
  if (n["timeout"]) base.timeout = duration(n["timeout"], where + ".timeout");
  if (n["ttl"]) base.ttl = duration(n["ttl"], where + ".ttl");
  if (n["retry"]) base.retry = duration(n["retry"], where + ".retry");
  if (n["env"]) {
    if (!n["env"].IsMap()) throw ConfigError{where + ".env", "must be a mapping"};
    for (const auto& kv : n["env"]) {
      const auto name = kv.first.as<std::string>();
      std::string key = where;
      key += ".env.";
      key += name;
      base.env[name] = str(kv.second, key);
    }
  }
  if (n["max_output"]) base.max_output = byte_count(n["max_output"], where + ".max_output");
  if (base.timeout.count() <= 0) throw ConfigError{where + ".timeout", "must be positive"};
  return base;
}

void parse_context(const YAML::Node& n, ContextConfig& c) {
  check_keys(n, "context",
             {"targeting_key", "machine_id_path", "attributes", "context_dir", "providers_dir",
              "time_zone", "provider_defaults", "providers", "canary_window"});
  if (n["targeting_key"]) c.targeting_key = str(n["targeting_key"], "context.targeting_key");
  if (n["machine_id_path"]) {
    c.machine_id_path = str(n["machine_id_path"], "context.machine_id_path");
  }
  if (n["attributes"]) {
    if (!n["attributes"].IsMap()) throw ConfigError{"context.attributes", "must be a mapping"};
    c.attributes = to_json(n["attributes"]);
    for (auto it = c.attributes.begin(); it != c.attributes.end(); ++it) {
      if (is_reserved_attribute(it.key())) {
        throw ConfigError{"context.attributes." + it.key(),
                          "is reserved (targetingKey, host, time and canary are set by the agent)"};
      }
    }
  }
  if (n["context_dir"]) c.context_dir = str(n["context_dir"], "context.context_dir");
  if (n["providers_dir"]) c.providers_dir = str(n["providers_dir"], "context.providers_dir");
  if (n["time_zone"]) c.time_zone = str(n["time_zone"], "context.time_zone");
  if (n["provider_defaults"]) {
    c.provider_defaults =
        parse_provider(n["provider_defaults"], "context.provider_defaults", c.provider_defaults);
  }
  if (n["providers"]) {
    if (!n["providers"].IsMap()) throw ConfigError{"context.providers", "must be a mapping"};
    // Applied after provider_defaults whatever the order in the file.
    for (const auto& kv : n["providers"]) {
      const auto name = kv.first.as<std::string>();
      c.providers[name] =
          parse_provider(kv.second, "context.providers." + name, c.provider_defaults);
    }
  }
  if (n["canary_window"]) {
    c.canary_window = duration(n["canary_window"], "context.canary_window");
    if (c.canary_window.count() <= 0) {
      throw ConfigError{"context.canary_window", "must be positive"};
    }
  }
}

}  // namespace

bool is_reserved_attribute(const std::string& key) {
  return key == "targetingKey" || key == "host" || key == "time" || key == "canary";
}

context::ContextOptions context_options(const ContextConfig& c) {
  context::ContextOptions o;
  o.targeting_key = c.targeting_key;
  o.machine_id_path = c.machine_id_path;
  o.attributes = c.attributes;
  o.context_dir = c.context_dir;
  o.providers_dir = c.providers_dir;
  o.provider_defaults = c.provider_defaults;
  o.providers = c.providers;
  o.time_zone = c.time_zone;
  return o;
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  double value = 0;
  try {
    value = std::stod(text.substr(0, i));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(i);
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m") {
    ms = value * 60000;
  } else if (unit == "h") {
    ms = value * 3600000;
  } else if (unit == "d") {
    ms = value * 86400000;
  } else {
    return std::nullopt;
  }
  if (ms < 0 || ms > 1e12) return std::nullopt;  // 1e12 ms is about 31 years
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Result<AgentConfig> parse_config(const std::string& yaml_text) {
  AgentConfig c;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (root.IsNull()) return c;
    check_keys(
        root, "",
        {"upstream", "sync", "context", "api", "state_dir", "bootstrap_definitions", "log_level"});
    if (root["upstream"]) parse_upstream(root["upstream"], c.upstream);
    if (root["sync"]) parse_sync(root["sync"], c.sync);
    if (root["api"]) parse_api(root["api"], c.api);
    if (root["context"]) parse_context(root["context"], c.context);
    if (root["state_dir"]) c.state_dir = str(root["state_dir"], "state_dir");
    if (root["bootstrap_definitions"]) {
      c.bootstrap_definitions = str(root["bootstrap_definitions"], "bootstrap_definitions");
    }
    if (root["log_level"]) c.log_level = str(root["log_level"], "log_level");
  } catch (const ConfigError& e) {
    return Error{"config", e.message, e.key};
  } catch (const YAML::Exception& e) {
    return Error{"config", e.what(), ""};
  }
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "off"};
  if (levels.count(c.log_level) == 0) {
    return Error{"config", "must be trace, debug, info, warn, error or off", "log_level"};
  }
  return c;
}

Result<bool> check_config(const AgentConfig& c) {
  if (c.upstream.url.empty() && c.bootstrap_definitions.empty()) {
    return Error{"config", "upstream.url is required (or bootstrap_definitions)", "upstream.url"};
  }
  return true;
}

Result<AgentConfig> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"config", "cannot read " + path, ""};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

Json describe(const AgentConfig& c) {
  auto provider = [](const context::ProviderOptions& p) {
    Json env = Json::object();
    for (const auto& [k, v] : p.env) env[k] = v;
    return Json{{"timeoutMs", p.timeout.count()},
                {"ttlMs", p.ttl.count()},
                {"retryMs", p.retry.count()},
                {"maxOutputBytes", p.max_output},
                {"env", std::move(env)}};
  };
  Json providers = Json::object();
  for (const auto& [name, p] : c.context.providers) providers[name] = provider(p);
  Json context{
      {"targetingKey",
       c.context.targeting_key.empty() ? Json(nullptr) : Json(c.context.targeting_key)},
      {"machineIdPath", c.context.machine_id_path},
      {"attributes", c.context.attributes},
      {"contextDir", c.context.context_dir},
      {"providersDir", c.context.providers_dir},
      {"timeZone", c.context.time_zone.empty() ? Json(nullptr) : Json(c.context.time_zone)},
      {"providerDefaults", provider(c.context.provider_defaults)},
      {"providers", std::move(providers)},
      {"canaryWindowMs", c.context.canary_window.count()}};
  return Json{{"mode", sync::to_string(c.upstream.mode)},
              {"upstream", c.upstream.url},
              {"socket", c.api.socket_path},
              {"stateDir", c.state_dir},
              {"intervalMs", c.sync.interval.count()},
              {"jitter", c.sync.jitter},
              {"tcp", c.api.tcp_address.empty()
                          ? Json(nullptr)
                          : Json(c.api.tcp_address + ":" + std::to_string(c.api.tcp_port))},
              {"context", std::move(context)}};
}

}  // namespace ff::app
