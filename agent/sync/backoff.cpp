// Pure scheduling arithmetic (contracts in upstream.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "agent/sync/upstream.h"

namespace ff::sync {

namespace {

// NaN and out-of-range randoms are clamped rather than trusted.
double clamp_unit(double r) {
  if (!(r >= 0.0)) return 0.0;
  return std::min(r, 1.0);
}

}  // namespace

std::chrono::milliseconds backoff_delay(std::uint32_t failures, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, double unit_random) {
  if (failures == 0 || base.count() <= 0 || cap.count() <= 0) return std::chrono::milliseconds(0);
  const std::int64_t c = cap.count();
  std::int64_t d = std::min<std::int64_t>(base.count(), c);
  for (std::uint32_t i = 1; i < failures && d < c; ++i) {
    d = d > c / 2 ? c : d * 2;  // saturates at the cap without overflowing
  }
  const std::int64_t half = d / 2;
  const auto spread = static_cast<double>(d - half);
  const auto jitter = static_cast<std::int64_t>(std::floor(clamp_unit(unit_random) * spread));
  return std::chrono::milliseconds(std::min(d, half + jitter));
}

std::chrono::milliseconds jittered_interval(std::chrono::milliseconds interval,
                                            double jitter_fraction, double unit_random) {
  if (interval.count() <= 0) return std::chrono::milliseconds(0);
  const double f = clamp_unit(jitter_fraction);
  const double factor = 1.0 + f * (2.0 * clamp_unit(unit_random) - 1.0);
  const long double ms = static_cast<long double>(interval.count()) * factor;
  constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max() / 2;
  const auto max = static_cast<long double>(kMaxMs);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(std::llround(std::clamp<long double>(ms, 0.0L, max))));
}

}  // namespace ff::sync
