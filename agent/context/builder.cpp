// ContextBuilder: merges facts, static layers and provider layers, publishes snapshots.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "agent/context/context.h"
#include "agent/context/internal.h"

namespace ff::context {

bool is_reserved_key(const std::string& key) {
  return std::any_of(std::begin(kReservedKeys), std::end(kReservedKeys),
                     [&key](const char* r) { return key == r; });
}

namespace {

using detail::Layer;
using detail::Problem;

// "host.os.id" -> "builtin" for every leaf (arrays are leaves) of the facts object.
void flatten_sources(const Json& value, const std::string& prefix, Json& sources) {
  if (!value.is_object() || value.empty()) {
    sources[prefix] = "builtin";
    return;
  }
  for (const auto& [k, v] : value.items()) {
    std::string path = prefix;
    path += '.';
    path += k;
    flatten_sources(v, path, sources);
  }
}

Json error_entry(const std::string& source, const std::string& message, const std::string& at) {
  return Json{{"source", source}, {"message", message}, {"at", at}};
}

class Builder final : public ContextBuilder {
 public:
  explicit Builder(const Clock& clock) : clock_(clock) {}

  // Shared by create() and reload(). Returns whether the context (minus time) changed.
  Result<bool> load(ContextOptions options) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    std::string zone_name =
        options.time_zone.empty() ? host_time_zone(options.root) : options.time_zone;
    auto zone = detail::resolve_zone(zone_name);
    if (!zone.ok()) return zone.error();

    options_ = std::move(options);
    zone_ = *zone;
    std::string at = detail::utc_timestamp(clock_.now());
    loaded_at_ = at;
    static_errors_ = Json::array();
    static_layers_.clear();

    host_ = detail::read_host_facts(options_.root);
    if (!options_.targeting_key.empty()) {
      targeting_key_ = options_.targeting_key;
      targeting_source_ = "config";
    } else {
      targeting_source_ = "builtin";
      targeting_key_ = detail::read_machine_id(options_.root, options_.machine_id_path);
      if (targeting_key_.empty() && host_.contains("fqdn")) targeting_key_ = host_["fqdn"];
      if (targeting_key_.empty()) {
        static_errors_.push_back(error_entry(
            "targetingKey", "no machine-id, FQDN or hostname: targetingKey is empty", at));
      }
    }

    std::vector<Problem> problems;
    if (options_.attributes.is_object()) {
      static_layers_.push_back({"config", options_.attributes});
    } else if (!options_.attributes.is_null()) {
      problems.push_back({"config", "context attributes must be an object"});
    }
    detail::load_context_dir(options_.context_dir, static_layers_, problems);
    for (const auto& p : problems) {
      spdlog::warn("context: {}: {}", p.source, p.message);
      static_errors_.push_back(error_entry(p.source, p.message, at));
    }

    // Providers: keep the last good values of those still present, drop the removed ones, and
    // run them all (a reload is an explicit request for fresh data).
    std::map<std::string, ProviderState> next;
    for (const auto& name : detail::list_providers(options_.providers_dir)) {
      ProviderState state;
      if (auto it = providers_.find(name); it != providers_.end()) state = std::move(it->second);
      auto opt = options_.providers.find(name);
      state.options = opt != options_.providers.end() ? opt->second : options_.provider_defaults;
      next[name] = std::move(state);
    }
    providers_ = std::move(next);
    if (options_.defer_providers) {
      const auto now = clock_.steady();
      for (auto& [name, state] : providers_) state.next_due = now;
      return publish();
    }
    std::vector<std::string> all;
    for (const auto& [name, state] : providers_) all.push_back(name);
    run(all);
    return publish();
  }

  Result<bool> reload(ContextOptions options) override { return load(std::move(options)); }

  bool refresh() override {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    auto now = clock_.steady();
    std::vector<std::string> due;
    for (const auto& [name, state] : providers_) {
      if (state.next_due <= now) due.push_back(name);
    }
    if (due.empty()) return false;
    run(due);
    return publish();
  }

  HostContext current() const override {
    HostContext out;
    {
      std::lock_guard<std::mutex> l(mu_);
      out = snapshot_;
    }
    auto fields = time_fields(out.time_zone, clock_.now());
    if (fields.ok()) {
      out.context["time"] = std::move(*fields);
      out.sources["time"] = "time";
    } else {  // the zone was validated at load; only a vanished tz database gets here
      out.errors.push_back(
          error_entry("time", fields.error().message, detail::utc_timestamp(clock_.now())));
    }
    return out;
  }

  std::chrono::steady_clock::time_point next_refresh() const override {
    std::lock_guard<std::mutex> l(mu_);
    return next_refresh_;
  }

 private:
  struct ProviderState {
    ProviderOptions options;
    bool has_value = false;
    Json value = Json::object();
    Json error;  // null, or the current failure's error entry
    std::string ran_at;
    std::chrono::steady_clock::time_point next_due{};
  };

  // Runs the named providers together and records their outcomes. Holds run_mu_, not mu_.
  void run(const std::vector<std::string>& names) {
    if (names.empty()) return;
    std::vector<detail::ProviderJob> jobs;
    jobs.reserve(names.size());
    for (const auto& name : names) {
      std::string path = options_.providers_dir;
      path += '/';
      path += name;
      jobs.push_back({name, std::move(path), providers_[name].options});
    }
    auto started = clock_.steady();
    auto outcomes = detail::run_providers(jobs);
    std::string at = detail::utc_timestamp(clock_.now());
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto& state = providers_[names[i]];
      auto& o = outcomes[i];
      state.ran_at = at;
      if (o.ok) {
        state.has_value = true;
        state.value = std::move(o.value);
        state.error = nullptr;
        state.next_due = started + state.options.ttl;
      } else {
        spdlog::warn("context: provider {} failed, keeping {}: {}", names[i],
                     state.has_value ? "its last good value" : "no value", o.message);
        state.error = error_entry("provider:" + names[i], o.message, at);
        state.next_due = started + std::min(state.options.ttl, state.options.retry);
      }
    }
  }

  // Merges everything into a new snapshot. Returns whether the context changed.
  bool publish() {
    Json ctx = Json::object();
    Json sources = Json::object();
    Json overridden = Json::object();
    Json errors = static_errors_;
    ctx["targetingKey"] = targeting_key_;
    sources["targetingKey"] = targeting_source_;
    ctx["host"] = host_;
    flatten_sources(host_, "host", sources);

    auto merge = [&](const std::string& source, const Json& values, const std::string& at) {
      for (const auto& [key, value] : values.items()) {
        if (is_reserved_key(key)) {
          errors.push_back(error_entry(source, "reserved key \"" + key + "\" refused", at));
          continue;
        }
        if (ctx.contains(key)) overridden[key].push_back(sources[key]);
        ctx[key] = value;
        sources[key] = source;
      }
    };
    for (const auto& layer : static_layers_) merge(layer.source, layer.values, loaded_at_);
    for (const auto& [name, state] : providers_) {
      if (state.has_value) merge("provider:" + name, state.value, state.ran_at);
      if (!state.error.is_null()) errors.push_back(state.error);
    }
    if (overridden != last_overridden_) {
      for (const auto& [key, from] : overridden.items()) {
        spdlog::info("context: attribute \"{}\" from {} overrides {}", key,
                     sources[key].get<std::string>(), from.dump());
      }
      last_overridden_ = overridden;
    }

    auto next = std::chrono::steady_clock::time_point::max();
    for (const auto& [name, state] : providers_) next = std::min(next, state.next_due);

    std::lock_guard<std::mutex> l(mu_);
    bool changed = snapshot_.generation == 0 || ctx != snapshot_.context;
    if (changed) ++snapshot_.generation;
    snapshot_.context = std::move(ctx);
    snapshot_.sources = std::move(sources);
    snapshot_.errors = std::move(errors);
    snapshot_.overridden = std::move(overridden);
    snapshot_.time_zone = zone_;
    next_refresh_ = next;
    return changed;
  }

  const Clock& clock_;

  // Loader state: only touched with run_mu_ held.
  std::mutex run_mu_;
  ContextOptions options_;
  std::string zone_;
  std::string loaded_at_;  // when facts and files were last read
  Json host_ = Json::object();
  std::string targeting_key_;
  std::string targeting_source_;
  std::vector<Layer> static_layers_;
  Json static_errors_ = Json::array();
  std::map<std::string, ProviderState> providers_;
  Json last_overridden_ = Json::object();

  // Published state: what current()/next_refresh() read, under mu_. `context` has no `time`.
  mutable std::mutex mu_;
  HostContext snapshot_;
  std::chrono::steady_clock::time_point next_refresh_ =
      std::chrono::steady_clock::time_point::max();
};

}  // namespace

Result<std::unique_ptr<ContextBuilder>> ContextBuilder::create(ContextOptions options,
                                                               const Clock& clock) {
  auto builder = std::make_unique<Builder>(clock);
  auto loaded = builder->load(std::move(options));
  if (!loaded.ok()) return loaded.error();
  return std::unique_ptr<ContextBuilder>(std::move(builder));
}

}  // namespace ff::context
