// Holds the current Snapshot and lets readers wait for a newer one (Consul-style blocking
// queries: GET /v1/flags?index=N&wait=30s).
//
// Thread-safety: current() and publish() may be called from any thread. Waiter callbacks are
// invoked on the publishing thread (or, for an already-newer revision, inside add_waiter) and
// must only post work to their own executor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "agent/state/snapshot.h"

namespace ff::state {

class StateHolder {
 public:
  StateHolder();

  SnapshotPtr current() const;

  // Publishes `next` with revision = previous + 1 (the caller's revision field is overwritten)
  // and wakes every waiter whose revision is now exceeded.
  void publish(Snapshot next);

  // Replaces the current snapshot keeping its revision and waking no one: for status-only
  // changes (last attempt, last error) that blocking queries must not see as news.
  void replace_quietly(Snapshot next);

  using Waiter = std::function<void(SnapshotPtr)>;
  // Calls `fn` once the revision exceeds `after` (immediately if it already does). Returns an
  // id for cancel(); 0 when `fn` was already called.
  std::uint64_t wait_for(std::uint64_t after, Waiter fn);
  // Cancels a pending waiter; false if it already fired.
  bool cancel(std::uint64_t id);

 private:
  mutable std::mutex mu_;
  SnapshotPtr current_;
  std::uint64_t next_waiter_id_ = 1;
  std::map<std::uint64_t, std::pair<std::uint64_t, Waiter>> waiters_;
};

}  // namespace ff::state
