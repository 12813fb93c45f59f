#include "agent/app/agent.h"

#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>

#include "common/eval/ofrep.h"

namespace ff::app {

std::string context_hash(const Json& context) {
  const std::string s = context.dump();
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

}  // namespace

Agent::Agent(AgentConfig config, const Clock& clock, std::unique_ptr<store::Store> store,
             std::unique_ptr<sync::Upstream> upstream, Json context, std::function<double()> random)
    : config_(std::move(config)),
      clock_(clock),
      store_(std::move(store)),
      upstream_(std::move(upstream)),
      random_(std::move(random)),
      context_(std::move(context)) {
  context_hash_ = context_hash(context_);
  sync_.mode = sync::to_string(config_.upstream.mode);
  sync_.upstream = upstream_ ? upstream_->describe() : std::string("(none)");
  if (!store_) store_error_ = "no usable state directory: serving from memory only";
}

Agent::~Agent() = default;

Json Agent::context() const {
  std::lock_guard<std::mutex> l(mu_);
  return context_;
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

void Agent::publish_answers(const Json& evaluations, state::Source source, bool live_sync) {
  const auto prev = state_.current();
  const std::int64_t now = clock_.now_unix_ms();
  state::Snapshot next;
  next.ready = true;
  next.source = source;
  next.synced_at_ms = synced_at_ms_;
  {
    std::lock_guard<std::mutex> l(mu_);
    next.context = context_;
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
  if (changed) {
    state_.publish(std::move(next));
  } else {
    state_.replace_quietly(std::move(next));
  }
}

void Agent::publish_status_only() {
  state::Snapshot next = *state_.current();
  next.sync = sync_;
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

bool Agent::load_cache() {
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
      auto d = store_->load_definitions();
      if (!d) {
        note_store_error("loading definitions", d.error());
      } else if (*d) {
        std::string error;
        if (adopt_definitions((*d)->body, (*d)->source, (*d)->etag, 0, error)) {
          etag_ = (*d)->etag;
          std::shared_ptr<const eval::Engine> engine;
          Json ctx;
          {
            std::lock_guard<std::mutex> l(mu_);
            engine = engine_;
            ctx = context_;
          }
          publish_answers(evaluate_engine(*engine, ctx), state::Source::kCache, false);
          cache_loaded_ = true;
          spdlog::info("serving {} flags from cached definitions (stale until the first sync)",
                       engine->size());
          return true;
        }
        spdlog::error("cache: {}", error);
      }
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
        publish_answers(evaluate_engine(*engine, ctx), state::Source::kDefault, false);
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
  const std::int64_t now = clock_.now_unix_ms();
  sync_.last_attempt_ms = now;
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
  // Time fields move: in remote modes the context sent upstream carries the current time.
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
      etag_ = out.fetched.etag;
      publish_answers(*out.fetched.evaluations, state::Source::kLive, true);
      save_cache(*out.fetched.evaluations);
    }
    if (ok && config_.upstream.mode == sync::Mode::kDefinitions) {
      std::shared_ptr<const eval::Engine> engine;
      {
        std::lock_guard<std::mutex> l(mu_);
        engine = engine_;
      }
      if (engine) {
        const Json ev = evaluate_engine(*engine, ctx);
        publish_answers(ev, state::Source::kLive, false);
        save_cache(ev);
        next_reevaluate_ = clock_.steady() + config_.sync.reevaluate;
      }
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
      sync_.next_attempt_ms = 0;
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
  if (config_.upstream.mode == sync::Mode::kDefinitions && ready_) {
    reevaluate();  // time-based rules keep moving on cached definitions
  }
  publish_status_only();
  return delay;
}

void Agent::reevaluate() {
  std::shared_ptr<const eval::Engine> engine;
  Json ctx;
  {
    std::lock_guard<std::mutex> l(mu_);
    engine = engine_;
    ctx = context_;
  }
  next_reevaluate_ = clock_.steady() + config_.sync.reevaluate;
  if (!engine) return;
  const Json ev = evaluate_engine(*engine, ctx);
  publish_answers(
      ev, source_ == state::Source::kDefault && !ready_ ? state::Source::kCache : source_, false);
  save_cache(ev);
}

void Agent::set_context(Json context) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (context == context_) return;
    context_ = std::move(context);
    context_hash_ = context_hash(context_);
  }
  if (config_.upstream.mode != sync::Mode::kDefinitions) etag_.clear();  // ETags are per context
  wake();
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
  return Json{{"flags", evaluate_engine(*engine, ctx)}};
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
  wake();
}

void Agent::run() {
  next_reevaluate_ = clock_.steady() + config_.sync.reevaluate;
  while (!stop_) {
    const auto delay = sync_once();
    auto deadline = std::chrono::steady_clock::now() + delay;
    std::unique_lock<std::mutex> lock(wake_mu_);
    while (!stop_ && !wake_) {
      const auto reeval_in = next_reevaluate_ - clock_.steady();
      const auto until = std::min(deadline, std::chrono::steady_clock::now() + reeval_in);
      if (wake_cv_.wait_until(lock, until) == std::cv_status::timeout) {
        if (std::chrono::steady_clock::now() >= deadline) break;
        if (config_.upstream.mode == sync::Mode::kDefinitions &&
            clock_.steady() >= next_reevaluate_) {
          lock.unlock();
          reevaluate();
          lock.lock();
        }
      }
    }
    wake_ = false;
  }
}

}  // namespace ff::app
