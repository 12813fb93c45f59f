// The agent's core: owns the sync loop and turns upstream results into published snapshots
// and cache writes. Wiring (sockets, signals, config files) lives in main.cpp / daemon.cpp.
//
// Threading: sync_once(), reevaluate() and load_cache() run on the sync thread only (run());
// evaluate_for() and status_extra() may be called from API threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/app/config.h"
#include "agent/state/clock.h"
#include "agent/state/state_holder.h"
#include "agent/sync/upstream.h"
#include "common/eval/resolver.h"
#include "common/store/store.h"

namespace ff::app {

class Agent {
 public:
  // `store` may be null (no usable state directory): the agent then serves from memory only
  // and says so in /v1/status. `random` returns uniform values in [0,1) for jitter.
  Agent(AgentConfig config, const Clock& clock, std::unique_ptr<store::Store> store,
        std::unique_ptr<sync::Upstream> upstream, Json context, std::function<double()> random);
  ~Agent();

  // Publishes what the cache (or the bootstrap definitions) has, marked stale, before any
  // network traffic. Returns whether anything could be served.
  bool load_cache();

  // One sync attempt. Returns the delay until the next attempt (poll interval with jitter on
  // success, backoff on failure, at least Retry-After when the upstream asked for it).
  std::chrono::milliseconds sync_once();

  // definitions mode: re-evaluates the current definitions for the current time and
  // publishes if any answer changed (time-window rules keep moving while flagd is down).
  void reevaluate();

  // The loop: load_cache() is expected to have run. Returns after stop().
  void run();
  // Forces an attempt now (SIGHUP, EventStream change, context change).
  void wake();
  void stop();

  // Replaces the evaluation context (context change: re-evaluate or re-sync at once).
  void set_context(Json context);

  state::StateHolder& state() { return state_; }
  const AgentConfig& config() const { return config_; }

  // OFREP backend: in definitions mode evaluates a caller's context (the host's context with
  // the caller's keys on top); nullopt in remote modes or before definitions are known.
  std::optional<Json> evaluate_for(const Json& request_context);
  // Extra /v1/status fields: cache state, store errors, context hash.
  Json status_extra() const;
  Json context() const;

 private:
  struct Outcome;
  void publish_answers(const Json& evaluations, state::Source source, bool live_sync);
  void publish_status_only();
  bool adopt_definitions(const std::string& text, const std::string& source,
                         const std::string& etag, std::int64_t fetched_at_ms, std::string& error);
  Json evaluate_engine(const eval::Engine& engine, const Json& context) const;
  void save_cache(const Json& evaluations);
  void note_store_error(const std::string& what, const Error& e);

  AgentConfig config_;
  const Clock& clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<sync::Upstream> upstream_;
  std::function<double()> random_;
  state::StateHolder state_;

  mutable std::mutex mu_;  // guards the members below that API threads read
  Json context_;
  std::string context_hash_;
  std::shared_ptr<const eval::Engine> engine_;  // definitions mode
  std::string definitions_etag_;
  std::string store_error_;
  bool cache_loaded_ = false;

  // Sync-thread-only state.
  std::string etag_;
  state::SyncStatus sync_;
  state::Source source_ = state::Source::kDefault;
  bool ready_ = false;
  std::int64_t synced_at_ms_ = 0;
  std::chrono::steady_clock::time_point next_reevaluate_{};

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
};

// Context hash used to key cached evaluations (FNV-1a 64 over the compact JSON).
std::string context_hash(const Json& context);

}  // namespace ff::app
