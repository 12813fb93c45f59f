#include "agent/state/state_holder.h"

#include <vector>

namespace ff::state {

const char* to_string(Source s) {
  switch (s) {
    case Source::kLive:
      return "live";
    case Source::kCache:
      return "cache";
    case Source::kPinned:
      return "pinned";
    case Source::kDefault:
      return "default";
  }
  return "default";
}

StateHolder::StateHolder() : current_(std::make_shared<const Snapshot>()) {}

SnapshotPtr StateHolder::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void StateHolder::publish(Snapshot next) {
  std::vector<Waiter> fire;
  SnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next.revision = current_->revision + 1;
    snap = std::make_shared<const Snapshot>(std::move(next));
    current_ = snap;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (snap->revision > it->second.first) {
        fire.push_back(std::move(it->second.second));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& fn : fire) fn(snap);
}

void StateHolder::replace_quietly(Snapshot next) {
  std::lock_guard<std::mutex> lock(mu_);
  next.revision = current_->revision;
  current_ = std::make_shared<const Snapshot>(std::move(next));
}

std::uint64_t StateHolder::wait_for(std::uint64_t after, Waiter fn) {
  SnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_->revision <= after) {
      const auto id = next_waiter_id_++;
      waiters_.emplace(id, std::make_pair(after, std::move(fn)));
      return id;
    }
    snap = current_;
  }
  fn(snap);
  return 0;
}

bool StateHolder::cancel(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.erase(id) > 0;
}

}  // namespace ff::state
