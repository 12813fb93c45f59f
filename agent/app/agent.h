// The agent's core: owns the sync loop and turns upstream results into published snapshots
// and cache writes. Wiring (sockets, signals, config files) lives in main.cpp / daemon.cpp.
//
// Threading: sync_once(), tick(), reevaluate() and load_cache() run on the sync thread only
// (run()); evaluate_for(), status_extra(), context() and context_view() may be called from API
// threads; reload_context(), set_stream_connected(), wake() and stop() from any thread.
//
// The evaluation context is the ContextBuilder's (targetingKey, host, time, attributes,
// providers) plus the canary-fatigue object the agent adds under the reserved `canary` key:
//
//   canary.count          distinct flags for which this host was served a canary variant
//                         (first sighting within config.context.canary_window) and which do
//                         NOT serve it a canary variant now: past waves only.
//   canary.daysSinceLast  whole days since the most recent first sighting among those past-wave
//                         flags, whatever the window; absent when there is none.
//   canary.active         flags serving this host one of their canary variants right now.
//
// A canary variant is one the flag's metadata lists in `canaryVariants` (comma-separated). The
// first sighting of each (flag, variant) is kept in the Store, so fatigue survives restarts.
// Why past waves only: if being chosen for flag A's canary counted at once, a rule on A that
// prefers `canary.count == 0` would take the host out of A's canary at the next evaluation.
// With this contract a host's own current canaries never change `count` or `daysSinceLast`;
// rules must not base a flag's canary choice on `canary.active` (that one does move with it).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "agent/app/config.h"
#include "agent/context/context.h"
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
  // `builder` supplies the host context; it must not be null.
  Agent(AgentConfig config, const Clock& clock, std::unique_ptr<store::Store> store,
        std::unique_ptr<sync::Upstream> upstream, std::unique_ptr<context::ContextBuilder> builder,
        std::function<double()> random);
  // A fixed context (no files, providers or time fields; `canary` is still added).
  Agent(AgentConfig config, const Clock& clock, std::unique_ptr<store::Store> store,
        std::unique_ptr<sync::Upstream> upstream, Json context, std::function<double()> random);
  ~Agent();

  // Publishes what the cache (or the bootstrap definitions) has, marked stale, before any
  // network traffic. Returns whether anything could be served. In definitions mode the answers
  // evaluated last time are served first when they were made for this context; the cached
  // definitions are then compiled by the first sync_once() (on the sync thread, after the socket
  // is up), so start-up does not wait for parsing and compiling them.
  bool load_cache();

  // One sync attempt. Returns the delay until the next attempt (poll interval with jitter on
  // success, backoff on failure, at least Retry-After when the upstream asked for it).
  std::chrono::milliseconds sync_once();

  // definitions mode: re-evaluates the current definitions for the current time and
  // publishes if any answer changed (time-window rules keep moving while flagd is down).
  void reevaluate();

  // The timers between two syncs, one step: runs the context providers that are due, then
  //  - on a context change (anything but the time fields): bumps the revision, re-evaluates at
  //    once (definitions mode) or asks for a sync at once (remote modes, `resync`);
  //  - definitions mode: re-evaluates when a wall-clock minute boundary (or sync.reevaluate)
  //    has passed since the last evaluation, so a 09:00 window opens at 09:00:00.
  // `next` is how long until it has work again.
  struct Tick {
    std::chrono::milliseconds next{0};
    bool resync = false;
  };
  Tick tick();

  // The loop: load_cache() is expected to have run. Returns after stop().
  void run();
  // Forces an attempt now (SIGHUP, EventStream change, context change).
  void wake();
  void stop();

  // SIGHUP: the builder re-reads facts, files and providers with `options`; a change is picked
  // up by the next tick (wake() makes that at once).
  Result<bool> reload_context(context::ContextOptions options);
  // Replaces the context with a fixed one (as the Json constructor does); a change is picked up
  // at the next sync_once() or tick().
  void set_context(Json context);
  // flagd EventStream state for /v1/status `streamConnected` (status only: no revision bump).
  void set_stream_connected(bool connected);

  state::StateHolder& state() { return state_; }
  const AgentConfig& config() const { return config_; }

  // OFREP backend: in definitions mode evaluates a caller's context (the host's context with
  // the caller's keys on top); nullopt in remote modes or before definitions are known.
  std::optional<Json> evaluate_for(const Json& request_context);
  // Extra /v1/status fields: cache state, store errors, context hash.
  Json status_extra() const;
  // The context rules see now (as of the last refresh; time fields at most a minute old in
  // definitions mode, as of the last poll in remote modes).
  Json context() const;
  // GET /v1/context: {"context", "sources": attribute -> where it came from, "errors"}.
  Json context_view() const;

 private:
  struct ContextChange {
    bool host = false;    // the builder's generation moved (not the time fields)
    bool canary = false;  // the canary object changed
  };
  ContextChange refresh_context();
  void on_host_context_change();
  // Evaluates the definitions (definitions mode) for the fresh context and publishes. Saves
  // when answers changed (or `save_always`).
  void evaluate_now(state::Source source, bool live_sync, bool save_always);
  // The canary object for `active` (flags serving this host a canary variant) at `now_ms`.
  Json canary_fields(const std::set<std::string>& active, std::int64_t now_ms) const;
  // Makes `evaluations` the active canaries and records first sightings.
  void note_canaries(const Json& evaluations);
  // Returns whether the published answers differ from the previous snapshot.
  bool publish_answers(const Json& evaluations, state::Source source, bool live_sync);
  void publish_status_only();
  bool adopt_definitions(const std::string& text, const std::string& source,
                         const std::string& etag, std::int64_t fetched_at_ms, std::string& error);
  Json evaluate_engine(const eval::Engine& engine, const Json& context) const;
  void save_cache(const Json& evaluations);
  void note_store_error(const std::string& what, const Error& e);
  // definitions mode: compiles the cached definitions and serves their answers (stale).
  bool serve_cached_definitions();

  AgentConfig config_;
  const Clock& clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<sync::Upstream> upstream_;
  std::function<double()> random_;
  state::StateHolder state_;

  // Serialises builder calls (reload on the signal thread, refresh/current on the sync thread).
  std::mutex builder_mu_;
  std::unique_ptr<context::ContextBuilder> builder_;
  // Serialises snapshot building and publishing (sync thread, stream thread).
  std::mutex publish_mu_;
  std::atomic<bool> stream_connected_{false};

  mutable std::mutex mu_;  // guards the members below that API threads read
  Json context_;
  Json sources_ = Json::object();
  Json context_errors_ = Json::array();
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
  bool cached_definitions_pending_ = false;  // load_cache() left them for sync_once()
  std::chrono::steady_clock::time_point next_reevaluate_{};
  std::int64_t evaluated_minute_ = -1;  // Unix minute of the last evaluation (definitions)
  std::uint64_t generation_ = 0;        // the builder's generation last seen
  bool generation_seen_ = false;
  std::map<std::pair<std::string, std::string>, std::int64_t> canary_seen_;  // first sightings
  std::set<std::string> canary_active_;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
};

// Context hash used to key cached evaluations (FNV-1a 64 over the compact JSON) without the
// `time` and `canary` objects: both are derived on the host (from the clock, and from the
// answers plus the canary history kept in the same database), so they are reproduced at a
// restart; with them in, the cache made a minute (or a canary wave) ago would never match.
std::string context_hash(const Json& context);

}  // namespace ff::app
