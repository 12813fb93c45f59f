#include "agent/app/agent.h"

#include <spdlog/spdlog.h>

#include <malloc.h>
#include <algorithm>
#include <cctype>
#include <cinttypes>

#include <cstdio>
#include <limits>

#include "common/eval/ofrep.h"

namespace ff::app {

std::string context_hash(const Json& context) {
  std::string s;
  if (context.is_object() && (context.contains("time") || context.contains("canary"))) {
    Json stable = context;
    stable.erase("time");
    stable.erase("canary");
    s = stable.dump();
  } else {
    s = context.dump();
  }
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
  return buf;
}

namespace {

// Canonical answer object (agent/sync/upstream.h) -> FlagAnswer.
state::FlagAnswer to_answer(const Json& a) {
  state::FlagAnswer out;
  if (a.contains("value")) {
    out.value = a["value"];
    out.has_value = true;
  }
  if (a.contains("variant") && a["variant"].is_string())
    out.variant = a["variant"].get<std::string>();
  if (a.contains("errorCode") && a["errorCode"].is_string()) {
    out.error_code = a["errorCode"].get<std::string>();
    out.reason = "ERROR";
  }
  if (a.contains("reason") && a["reason"].is_string()) out.reason = a["reason"].get<std::string>();
  if (a.contains("errorDetails") && a["errorDetails"].is_string()) {
    out.error_details = a["errorDetails"].get<std::string>();
  }
  if (a.contains("metadata") && a["metadata"].is_object()) out.metadata = a["metadata"];
  if (a.contains("updatedAt") && a["updatedAt"].is_number_integer()) {
    out.updated_at_ms = a["updatedAt"].get<std::int64_t>();
  }
  return out;
}

// A context that only changes when it is replaced: every key comes from the config.
class FixedContext final : public context::ContextBuilder {
 public:
  FixedContext(Json context, std::uint64_t generation) {
    host_.context = std::move(context);
    host_.generation = generation;
    if (host_.context.is_object()) {
      for (auto it = host_.context.begin(); it != host_.context.end(); ++it) {
        host_.sources[it.key()] = "config";
      }
    }
  }
  Result<bool> reload(context::ContextOptions /*options*/) override { return false; }
  bool refresh() override { return false; }
  context::HostContext current() const override { return host_; }
  std::chrono::steady_clock::time_point next_refresh() const override {
    return std::chrono::steady_clock::time_point::max();
  }

 private:
  context::HostContext host_;
};

// The variants a flag's metadata names in `canaryVariants` ("a, b" -> {a, b}).
std::set<std::string> canary_variants(const Json& answer) {
  std::set<std::string> out;
  const auto m = answer.find("metadata");
  if (m == answer.end() || !m->is_object()) return out;
  const auto list = m->find("canaryVariants");
  if (list == m->end() || !list->is_string()) return out;
  const auto& text = list->get_ref<const std::string&>();
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::size_t b = start;
    std::size_t e = end;
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
    if (e > b) out.insert(text.substr(b, e - b));
    start = end + 1;
  }
  return out;
}

// Flags whose answer is one of their canary variants.
std::set<std::string> active_canaries(const Json& evaluations) {
  std::set<std::string> out;
  for (auto it = evaluations.begin(); it != evaluations.end(); ++it) {
    const auto v = it->find("variant");
    if (v != it->end() && v->is_string() &&
        canary_variants(*it).count(v->get_ref<const std::string&>()) != 0) {
      out.insert(it.key());
    }
  }
  return out;
}

std::chrono::milliseconds until(std::chrono::steady_clock::time_point t,
                                std::chrono::steady_clock::time_point now) {
  if (t <= now) return std::chrono::milliseconds(0);
  const auto d = t - now;
  if (d > std::chrono::hours(24)) return std::chrono::hours(24);
  return std::chrono::ceil<std::chrono::milliseconds>(d);
}

constexpr std::int64_t kMinuteMs = 60000;
constexpr std::int64_t kDayMs = 86400000;

}  // namespace

Agent::Agent(AgentConfig config, const Clock& clock, std::unique_ptr<store::Store> store,
             std::unique_ptr<sync::Upstream> upstream,
             std::unique_ptr<context::ContextBuilder> builder, std::function<double()> random)
    : config_(std::move(config)),
      clock_(clock),
      store_(std::move(store)),
      upstream_(std::move(upstream)),
      random_(std::move(random)),
      builder_(std::move(builder)) {
  sync_.mode = sync::to_string(config_.upstream.mode);
  sync_.upstream = upstream_ ? upstream_->describe() : std::string("(none)");
  if (!store_) store_error_ = "no usable state directory: serving from memory only";
  if (!builder_) builder_ = std::make_unique<FixedContext>(Json::object(), 1);
  if (store_) {
    auto history = store_->load_canary_history();
    if (history) {
      for (const auto& r : *history) {
        canary_seen_.emplace(std::make_pair(r.flag_key, r.variant), r.first_seen_ms);
      }
    } else {
      note_store_error("loading canary history", history.error());
    }
  }
  refresh_context();
}

Agent::Agent(AgentConfig config, const Clock& clock, std::unique_ptr<store::Store> store,
             std::unique_ptr<sync::Upstream> upstream, Json context, std::function<double()> random)
    : Agent(std::move(config), clock, std::move(store), std::move(upstream),
            std::make_unique<FixedContext>(std::move(context), 1), std::move(random)) {}

Agent::~Agent() = default;

Json Agent::context() const {
  std::lock_guard<std::mutex> l(mu_);
  return context_;
}

Json Agent::context_view() const {
  Json out;
  {
    std::lock_guard<std::mutex> l(mu_);
    out = Json{{"context", context_}, {"sources", sources_}, {"errors", context_errors_}};
  }
  // Time fields as of now, not as of the last refresh (remote modes refresh once per poll).
  Json& ctx = out["context"];
  if (ctx.contains("time") && ctx["time"].contains("zone") && ctx["time"]["zone"].is_string()) {
    if (auto t = context::time_fields(ctx["time"]["zone"].get<std::string>(), clock_.now())) {
      ctx["time"] = std::move(*t);
    }
  }
  return out;
}

Json Agent::canary_fields(const std::set<std::string>& active, std::int64_t now_ms) const {
  const std::int64_t window_start = now_ms - config_.context.canary_window.count();
  std::set<std::string> past;
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  for (const auto& [key, first_seen] : canary_seen_) {
    if (active.count(key.first) != 0) continue;
    if (first_seen >= window_start) past.insert(key.first);
    last = std::max(last, first_seen);
  }
  Json c{{"count", past.size()}, {"active", active.size()}};
  if (last != std::numeric_limits<std::int64_t>::min()) {
    c["daysSinceLast"] = std::max<std::int64_t>(0, (now_ms - last) / kDayMs);
  }
  return c;
}

void Agent::note_canaries(const Json& evaluations) {
  canary_active_ = active_canaries(evaluations);
  const std::int64_t now = clock_.now_unix_ms();
  for (const auto& flag : canary_active_) {
    const std::string& variant = evaluations[flag]["variant"].get_ref<const std::string&>();
    auto key = std::make_pair(flag, variant);
    if (canary_seen_.count(key) != 0) continue;
    canary_seen_.emplace(key, now);
    spdlog::info("canary: first served variant {} of flag {}", variant, flag);
    if (store_) {
      auto r = store_->record_canary(store::CanaryRecord{flag, variant, now});
      if (!r) note_store_error("recording a canary", r.error());
    }
  }
}

Agent::ContextChange Agent::refresh_context() {
  context::HostContext host;
  {
    std::lock_guard<std::mutex> l(builder_mu_);
    host = builder_->current();
  }
  ContextChange change;
  if (!generation_seen_ || host.generation != generation_) {
    change.host = generation_seen_;
    generation_seen_ = true;
    generation_ = host.generation;
  }
  Json ctx = std::move(host.context);
  if (!ctx.is_object()) ctx = Json::object();
  ctx["canary"] = canary_fields(canary_active_, clock_.now_unix_ms());
  host.sources["canary"] = "canary";
  std::lock_guard<std::mutex> l(mu_);
  change.canary =
      !context_.is_object() || !context_.contains("canary") || context_["canary"] != ctx["canary"];
  if (change.host || change.canary || context_hash_.empty()) context_hash_ = context_hash(ctx);
  context_ = std::move(ctx);
  sources_ = std::move(host.sources);
  context_errors_ = std::move(host.errors);
  return change;
}

void Agent::on_host_context_change() {
  spdlog::info("context changed (hash {})", [&] {
    std::lock_guard<std::mutex> l(mu_);
    return context_hash_;
  }());
  if (config_.upstream.mode != sync::Mode::kDefinitions) etag_.clear();  // ETags are per context
  // News for blocking queries even when no answer changes: the context they were made for did.
  std::lock_guard<std::mutex> p(publish_mu_);
  state::Snapshot next = *state_.current();
  {
    std::lock_guard<std::mutex> l(mu_);
    next.context = context_;
  }
  next.sync = sync_;
  next.sync.stream_connected = stream_connected_;
  state_.publish(std::move(next));
}

Result<bool> Agent::reload_context(context::ContextOptions options) {
  std::lock_guard<std::mutex> l(builder_mu_);
  return builder_->reload(std::move(options));
}

void Agent::set_context(Json context) {
  std::lock_guard<std::mutex> l(builder_mu_);
  const auto current = builder_->current();
  if (current.context == context) return;
  builder_ = std::make_unique<FixedContext>(std::move(context), current.generation + 1);
}

void Agent::set_stream_connected(bool connected) {
  if (stream_connected_.exchange(connected) == connected) return;
  std::lock_guard<std::mutex> p(publish_mu_);
  state::Snapshot next = *state_.current();
  next.sync.stream_connected = connected;
  state_.replace_quietly(std::move(next));
}

void Agent::note_store_error(const std::string& what, const Error& e) {
  spdlog::error("cache: {} failed: {} (serving from memory)", what, e.to_string());
  std::lock_guard<std::mutex> l(mu_);
  store_error_ = what + ": " + e.to_string();
}

Json Agent::evaluate_engine(const eval::Engine& engine, const Json& context) const {
  std::vector<eval::Resolution> rs;
  engine.resolve_all(context, clock_.now_unix_s(), rs);
  Json out = Json::object();
  for (const auto& r : rs) {
    Json a = eval::to_ofrep(r);
    const std::string key = a["key"].get<std::string>();
    a.erase("key");
    if (!a.contains("reason")) a["reason"] = "ERROR";
    out[key] = std::move(a);
  }
  return out;
}

bool Agent::publish_answers(const Json& evaluations, state::Source source, bool live_sync) {
  std::unique_lock<std::mutex> p(publish_mu_);
  const auto prev = state_.current();
  const std::int64_t now = clock_.now_unix_ms();
  state::Snapshot next;
  next.ready = true;
  next.source = source;
  next.synced_at_ms = synced_at_ms_;
  {
    std::lock_guard<std::mutex> l(mu_);
    next.context = context_;
    if (engine_) next.flag_set_metadata = engine_->flag_set().metadata;
  }
  bool changed = !prev->ready || prev->source != source || prev->flags.size() != evaluations.size();
  for (auto it = evaluations.begin(); it != evaluations.end(); ++it) {
    state::FlagAnswer a = to_answer(it.value());
    const auto old = prev->flags.find(it.key());
    if (old != prev->flags.end() && old->second.same_answer(a) &&
        old->second.metadata == a.metadata) {
      a.updated_at_ms = old->second.updated_at_ms;
    } else {
      if (a.updated_at_ms == 0 || live_sync) a.updated_at_ms = now;
      changed = true;
    }
    next.flags.emplace(it.key(), std::move(a));
  }
  ready_ = true;
  source_ = source;
  next.sync = sync_;
  next.sync.stream_connected = stream_connected_;
  if (changed) {
    state_.publish(std::move(next));
  } else {
    state_.replace_quietly(std::move(next));
  }
  p.unlock();
  note_canaries(evaluations);
  return changed;
}

void Agent::publish_status_only() {
  std::lock_guard<std::mutex> p(publish_mu_);
  state::Snapshot next = *state_.current();
  next.sync = sync_;
  next.sync.stream_connected = stream_connected_;
  next.source = source_;
  next.ready = ready_;
  next.synced_at_ms = synced_at_ms_;
  const bool news = next.source != state_.current()->source;
  if (news) {
    state_.publish(std::move(next));
  } else {
    state_.replace_quietly(std::move(next));
  }
}

void Agent::save_cache(const Json& evaluations) {
  if (!store_) return;
  store::CachedEvaluations e;
  {
    std::lock_guard<std::mutex> l(mu_);
    e.context_hash = context_hash_;
  }
  e.synced_at_ms = synced_at_ms_;
  const auto snap = state_.current();
  for (auto it = evaluations.begin(); it != evaluations.end(); ++it) {
    Json a = it.value();
    const auto f = snap->flags.find(it.key());
    a["updatedAt"] = f != snap->flags.end() ? f->second.updated_at_ms : clock_.now_unix_ms();
    e.flags[it.key()] = std::move(a);
  }
  auto r = store_->save_evaluations(e);
  if (!r) {
    note_store_error("saving evaluations", r.error());
    return;
  }
  store::SyncRecord rec;
  rec.etag = etag_;
  rec.last_attempt_ms = sync_.last_attempt_ms;
  rec.last_success_ms = sync_.last_success_ms;
  rec.last_error = sync_.last_error;
  rec.revision = state_.current()->revision;
  auto r2 = store_->save_sync(rec);
  if (!r2) {
    note_store_error("saving sync state", r2.error());
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  store_error_.clear();
}

bool Agent::adopt_definitions(const std::string& text, const std::string& source,
                              const std::string& etag, std::int64_t fetched_at_ms,
                              std::string& error) {
  auto set = flags::load(std::string_view(text));
  if (!set) {
    error = "definitions from " + source + " refused: " + set.error().to_string();
    return false;
  }
  auto engine = std::make_shared<const eval::Engine>(std::move(*set));
  for (const auto& e : engine->compile_errors()) {
    spdlog::warn("definitions: flag {} (evaluates to PARSE_ERROR)", e);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    engine_ = std::move(engine);
    definitions_etag_ = etag;
  }
  if (store_ && fetched_at_ms > 0) {
    store::CachedDefinitions d{source, text, etag, fetched_at_ms};
    auto r = store_->save_definitions(d);
    if (!r) note_store_error("saving definitions", r.error());
  }
  return true;
}

void Agent::evaluate_now(state::Source source, bool live_sync, bool save_always) {
  std::shared_ptr<const eval::Engine> engine;
  {
    std::lock_guard<std::mutex> l(mu_);
    engine = engine_;
  }
  const auto now = clock_.now_unix_ms();
  next_reevaluate_ = clock_.steady() + config_.sync.reevaluate;
  evaluated_minute_ = now / kMinuteMs;
  if (!engine) return;
  refresh_context();
  Json ctx;
  {
    std::lock_guard<std::mutex> l(mu_);
    ctx = context_;
  }
  Json ev = evaluate_engine(*engine, ctx);
  // These answers may move this host into or out of a canary. Then they are evaluated once
  // more with the canary object they imply, before anything is published or recorded: a rule
  // on another flag that prefers fresh hosts must see a wave that just ended, and one that
  // just started must not look like a past wave. Once only, so a rule that feeds on its own
  // result (canary.active) settles at the next evaluation instead of looping.
  Json fields = canary_fields(active_canaries(ev), now);
  if (fields != ctx["canary"]) {
    ctx["canary"] = std::move(fields);
    ev = evaluate_engine(*engine, ctx);
  }
  canary_active_ = active_canaries(ev);
  refresh_context();
  const bool changed = publish_answers(ev, source, live_sync);
  if (changed || save_always) save_cache(ev);
}

bool Agent::serve_cached_definitions() {
  auto d = store_->load_definitions();
  if (!d) {
    note_store_error("loading definitions", d.error());
    return false;
  }
  if (!*d) return false;
  std::string error;
  if (!adopt_definitions((*d)->body, (*d)->source, (*d)->etag, 0, error)) {
    spdlog::error("cache: {}", error);
    return false;
  }
  etag_ = (*d)->etag;
  evaluate_now(state::Source::kCache, false, false);
  cache_loaded_ = true;
  std::lock_guard<std::mutex> l(mu_);
  spdlog::info("serving {} flags from cached definitions (stale until the first sync)",
               engine_->size());
  return true;
}

bool Agent::load_cache() {
  refresh_context();
  std::string hash;
  {
    std::lock_guard<std::mutex> l(mu_);
    hash = context_hash_;
  }
  if (store_) {
    if (auto rec = store_->load_sync(); rec) {
      etag_ = rec->etag;
      sync_.last_success_ms = rec->last_success_ms;
      sync_.last_attempt_ms = rec->last_attempt_ms;
      sync_.last_error = rec->last_error;
      synced_at_ms_ = rec->last_success_ms;
    } else {
      note_store_error("loading sync state", rec.error());
    }
  }
  if (config_.upstream.mode == sync::Mode::kDefinitions) {
    if (store_) {
      // The answers evaluated last time: serving them needs no parsing or compiling of the
      // definitions, which the first sync_once() then does. Answers made for another context
      // are served too (stale, like remote modes): at start
      // the providers have not run yet, so the context hash differs whenever there are any;
      // run() refreshes the context and re-evaluates before anything else.
      if (auto e = store_->load_evaluations(); e && *e) {
        if ((*e)->context_hash != hash) {
          spdlog::info(
              "cache: cached answers were made for another context (providers not run "
              "yet, or attributes changed); serving them stale until re-evaluated");
        }
        synced_at_ms_ = (*e)->synced_at_ms;
        canary_active_ = active_canaries((*e)->flags);
        refresh_context();
        publish_answers((*e)->flags, state::Source::kCache, false);
        cache_loaded_ = true;
        cached_definitions_pending_ = true;
        spdlog::info("serving {} cached flags (stale until the first sync)", (*e)->flags.size());
        return true;
      }
      if (serve_cached_definitions()) return true;
    }
  } else if (store_) {
    auto e = store_->load_evaluations();
    if (!e) {
      note_store_error("loading evaluations", e.error());
    } else if (*e) {
      if ((*e)->context_hash != hash) {
        spdlog::info(
            "cache: cached answers were made for another context; serving them stale "
            "until the first sync");
      }
      synced_at_ms_ = (*e)->synced_at_ms;
      canary_active_ = active_canaries((*e)->flags);
      refresh_context();  // the first sync sends the canary object these answers imply
      publish_answers((*e)->flags, state::Source::kCache, false);
      cache_loaded_ = true;
      spdlog::info("serving {} cached flags (stale until the first sync)", (*e)->flags.size());
      return true;
    }
  }
  if (!config_.bootstrap_definitions.empty()) {
    std::FILE* f = std::fopen(config_.bootstrap_definitions.c_str(), "rb");
    if (f == nullptr) {
      spdlog::error("bootstrap definitions {} cannot be read", config_.bootstrap_definitions);
    } else {
      std::string text;
      char buf[65536];
      std::size_t n = 0;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() < (64u << 20)) {
        text.append(buf, n);
      }
      std::fclose(f);
      std::string error;
      if (adopt_definitions(text, config_.bootstrap_definitions, "", 0, error)) {
        std::shared_ptr<const eval::Engine> engine;
        Json ctx;
        {
          std::lock_guard<std::mutex> l(mu_);
          engine = engine_;
          ctx = context_;
        }
        const Json ev = evaluate_engine(*engine, ctx);
        canary_active_ = active_canaries(ev);
        refresh_context();
        publish_answers(ev, state::Source::kDefault, false);
        spdlog::info("serving {} flags from bootstrap definitions {}", engine->size(),
                     config_.bootstrap_definitions);
        return true;
      }
      spdlog::error("bootstrap: {}", error);
    }
  }
  publish_status_only();
  return false;
}

std::chrono::milliseconds Agent::sync_once() {
  if (cached_definitions_pending_) {
    cached_definitions_pending_ = false;
    // Without them a 304 from the upstream would leave nothing to evaluate: ask for the body.
    if (!serve_cached_definitions()) etag_.clear();
  }
  const std::int64_t now = clock_.now_unix_ms();
  sync_.last_attempt_ms = now;
  // Fresh time fields for this poll; a changed context is news before the answers arrive.
  const ContextChange change = refresh_context();
  if (change.host) on_host_context_change();
  if (!upstream_) {
    sync_.last_error = "no upstream configured";
    publish_status_only();
    return config_.sync.interval;
  }
  Json ctx;
  {
    std::lock_guard<std::mutex> l(mu_);
    ctx = context_;
  }
  sync::FetchOutcome out = upstream_->fetch(ctx, etag_);
  if (out.ok) {
    sync_.last_success_ms = now;
    sync_.last_error.clear();
    sync_.consecutive_failures = 0;
    synced_at_ms_ = now;
    bool ok = true;
    std::string error;
    if (out.fetched.not_modified) {
      if (!ready_) {
        ok = false;
        error = "upstream said not modified but nothing is cached; retrying without ETag";
        etag_.clear();
      }
    } else if (out.fetched.definitions) {
      ok = adopt_definitions(*out.fetched.definitions, upstream_->describe(), out.fetched.etag, now,
                             error);
      if (ok) etag_ = out.fetched.etag;
    } else if (out.fetched.evaluations) {
      // As in definitions mode (evaluate_now): answers that move this host into or out of a
      // canary are asked for again, at once, with the canary object they imply, before
      // anything is published. If that second request fails the first answers stand.
      Json fields = canary_fields(active_canaries(*out.fetched.evaluations), now);
      if (fields != ctx["canary"]) {
        ctx["canary"] = std::move(fields);
        sync::FetchOutcome again = upstream_->fetch(ctx, "");
        if (again.ok && again.fetched.evaluations) out.fetched = std::move(again.fetched);
      }
      etag_ = out.fetched.etag;
      canary_active_ = active_canaries(*out.fetched.evaluations);
      refresh_context();
      publish_answers(*out.fetched.evaluations, state::Source::kLive, true);
      save_cache(*out.fetched.evaluations);
    }
    if (ok && config_.upstream.mode == sync::Mode::kDefinitions) {
      evaluate_now(state::Source::kLive, false, true);
    } else if (ok && out.fetched.not_modified && ready_) {
      // Re-publish the existing answers as live without touching their timestamps.
      Json ev = Json::object();
      for (const auto& [k, a] : state_.current()->flags) {
        Json j = Json::object();
        if (a.has_value) j["value"] = a.value;
        if (a.variant) j["variant"] = *a.variant;
        j["reason"] = a.reason;
        if (a.error_code) j["errorCode"] = *a.error_code;
        if (!a.error_details.empty()) j["errorDetails"] = a.error_details;
        j["metadata"] = a.metadata;
        ev[k] = std::move(j);
      }
      publish_answers(ev, state::Source::kLive, false);
      save_cache(ev);
    }
    if (ok) {
      const auto delay =
          sync::jittered_interval(config_.sync.interval, config_.sync.jitter, random_());
      sync_.next_attempt_ms = now + delay.count();
      publish_status_only();
      return delay;
    }
    out.ok = false;
    out.error.message = error;
  }
  ++sync_.consecutive_failures;
  sync_.last_error = out.error.message;
  spdlog::warn("sync from {} failed ({} in a row): {}", sync_.upstream, sync_.consecutive_failures,
               out.error.message);
  if (ready_ && source_ == state::Source::kLive) source_ = state::Source::kCache;
  auto delay = sync::backoff_delay(sync_.consecutive_failures, config_.sync.backoff_base,
                                   config_.sync.backoff_max, random_());
  if (out.error.retry_after) {
    delay = std::max<std::chrono::milliseconds>(delay, *out.error.retry_after);
  }
  sync_.next_attempt_ms = now + delay.count();
  // A failed sync changes the status only. Time-based rules keep moving through tick(); a
  // context change that came with this attempt is evaluated now (definitions mode).
  if (change.host && config_.upstream.mode == sync::Mode::kDefinitions && ready_) {
    evaluate_now(source_, false, false);
  }
  publish_status_only();
  return delay;
}

void Agent::reevaluate() {
  if (cached_definitions_pending_) {
    // load_cache() served the cached answers without the definitions: time (or the context)
    // moved before the first sync, so they are needed now.
    cached_definitions_pending_ = false;
    if (serve_cached_definitions()) return;
    etag_.clear();
  }
  evaluate_now(source_ == state::Source::kDefault && !ready_ ? state::Source::kCache : source_,
               false, false);
}

Agent::Tick Agent::tick() {
  Tick t;
  {
    std::lock_guard<std::mutex> l(builder_mu_);
    if (clock_.steady() >= builder_->next_refresh()) builder_->refresh();
  }
  const bool definitions = config_.upstream.mode == sync::Mode::kDefinitions;
  const std::int64_t now_ms = clock_.now_unix_ms();
  if (refresh_context().host) {
    on_host_context_change();
    if (definitions) {
      if (ready_) reevaluate();
    } else {
      t.resync = true;
    }
  } else if (definitions && ready_ &&
             (now_ms / kMinuteMs != evaluated_minute_ || clock_.steady() >= next_reevaluate_)) {
    reevaluate();
  }
  const auto steady = clock_.steady();
  std::chrono::milliseconds next = std::chrono::hours(24);
  {
    std::lock_guard<std::mutex> l(builder_mu_);
    next = std::min(next, until(builder_->next_refresh(), steady));
  }
  if (definitions && ready_) {  // nothing to re-evaluate before the first answers
    const std::int64_t wall = clock_.now_unix_ms();
    next = std::min(next, std::chrono::milliseconds(kMinuteMs - wall % kMinuteMs));
    next = std::min(next, until(next_reevaluate_, steady));
  }
  // Never spin: a provider that stays due (refresh() could not run it) is retried shortly.
  t.next = std::max(next, std::chrono::milliseconds(10));
  return t;
}

std::optional<Json> Agent::evaluate_for(const Json& request_context) {
  std::shared_ptr<const eval::Engine> engine;
  Json ctx;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (config_.upstream.mode != sync::Mode::kDefinitions || !engine_) return std::nullopt;
    engine = engine_;
    ctx = context_;
  }
  if (request_context.is_object()) {
    for (auto it = request_context.begin(); it != request_context.end(); ++it) {
      ctx[it.key()] = it.value();
    }
  }
  return Json{{"flags", evaluate_engine(*engine, ctx)}, {"metadata", engine->flag_set().metadata}};
}

Json Agent::status_extra() const {
  std::lock_guard<std::mutex> l(mu_);
  Json out = Json::object();
  out["contextHash"] = context_hash_;
  out["cache"] = Json{{"loadedAtStart", cache_loaded_},
                      {"error", store_error_.empty() ? Json(nullptr) : Json(store_error_)},
                      {"persistent", store_ != nullptr}};
  if (engine_) out["definitions"] = Json{{"flags", engine_->size()}, {"etag", definitions_etag_}};
  return out;
}

void Agent::wake() {
  {
    std::lock_guard<std::mutex> l(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

void Agent::stop() {
  stop_ = true;
  if (upstream_) upstream_->cancel();  // a fetch in flight must not hold up the shutdown
  wake();
}

void Agent::run() {
  // Deferred providers and context changes first, so the first sync already uses (and a
  // cache-served start is re-evaluated with) the full context.
  tick();
  while (!stop_) {
    const auto delay = sync_once();
    // Fetching, parsing, compiling, evaluating and saving leave their freed memory in this
    // thread's malloc arena, where nothing else would reuse it: give it back (about 4 MiB
    // with 1,000 flags in definitions mode; docs/benchmarks.md "Agent footprint").
    malloc_trim(0);
    const auto sync_at = clock_.steady() + delay;
    std::unique_lock<std::mutex> lock(wake_mu_);
    while (!stop_ && !wake_) {
      lock.unlock();
      const Tick t = tick();
      lock.lock();
      const auto now = clock_.steady();
      if (t.resync || now >= sync_at || stop_ || wake_) break;
      wake_cv_.wait_for(lock, std::min(t.next, until(sync_at, now)));
    }
    wake_ = false;
  }
}

}  // namespace ff::app
