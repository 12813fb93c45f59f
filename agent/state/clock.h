// Time seam. Logic never reads the real clock directly: the agent wires SystemClock, tests
// inject a FakeClock (tests/fakes/fake_clock.h) and move it by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace ff {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps shown to users and $flagd.timestamp.
  virtual std::chrono::system_clock::time_point now() const = 0;
  // Monotonic time, for intervals, timeouts and backoff.
  virtual std::chrono::steady_clock::time_point steady() const = 0;

  std::int64_t now_unix_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
  std::int64_t now_unix_s() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace ff
