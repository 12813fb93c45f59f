// A Clock moved by hand. Both wall and monotonic time advance together.
#pragma once

#include <mutex>

#include "agent/state/clock.h"

namespace ff::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t unix_ms = 1'764'400'000'000)
      : wall_(std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms))) {}
  std::chrono::system_clock::time_point now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return wall_;
  }
  std::chrono::steady_clock::time_point steady() const override {
    std::lock_guard<std::mutex> l(mu_);
    return steady_;
  }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    wall_ += d;
    steady_ += d;
  }
  void set_wall(std::chrono::system_clock::time_point t) {
    std::lock_guard<std::mutex> l(mu_);
    wall_ = t;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point wall_;
  std::chrono::steady_clock::time_point steady_{};
};

}  // namespace ff::testing
