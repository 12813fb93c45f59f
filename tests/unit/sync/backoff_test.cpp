#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "agent/sync/upstream.h"

using ff::sync::backoff_delay;
using ff::sync::jittered_interval;
using std::chrono::milliseconds;

TEST(Backoff, NoFailureNoDelay) {
  EXPECT_EQ(backoff_delay(0, milliseconds(1000), milliseconds(60000), 0.5), milliseconds(0));
}

TEST(Backoff, DoublesPerFailureWithFullJitterInUpperHalf) {
  const milliseconds base(1000), cap(60000);
  // random 0 -> d/2, random ~1 -> d.
  EXPECT_EQ(backoff_delay(1, base, cap, 0.0), milliseconds(500));
  EXPECT_EQ(backoff_delay(1, base, cap, 0.999999), milliseconds(999));
  EXPECT_EQ(backoff_delay(1, base, cap, 1.0), milliseconds(1000));
  EXPECT_EQ(backoff_delay(2, base, cap, 0.0), milliseconds(1000));
  EXPECT_EQ(backoff_delay(3, base, cap, 0.0), milliseconds(2000));
  EXPECT_EQ(backoff_delay(4, base, cap, 0.5), milliseconds(4000 + 2000));
  EXPECT_EQ(backoff_delay(6, base, cap, 1.0), milliseconds(32000));
}

TEST(Backoff, CappedAndNeverOverflows) {
  const milliseconds base(1000), cap(60000);
  EXPECT_EQ(backoff_delay(7, base, cap, 1.0), milliseconds(60000));  // 64 s -> cap
  EXPECT_EQ(backoff_delay(7, base, cap, 0.0), milliseconds(30000));
  EXPECT_EQ(backoff_delay(1000, base, cap, 1.0), milliseconds(60000));
  EXPECT_EQ(backoff_delay(std::numeric_limits<std::uint32_t>::max(), base, cap, 0.0),
            milliseconds(30000));
  const milliseconds huge(std::numeric_limits<std::int64_t>::max());
  const auto d = backoff_delay(200, milliseconds(1), huge, 1.0);
  EXPECT_GT(d.count(), 0);
  EXPECT_LE(d, huge);
}

TEST(Backoff, BaseAboveCapUsesCap) {
  EXPECT_EQ(backoff_delay(1, milliseconds(5000), milliseconds(2000), 1.0), milliseconds(2000));
}

TEST(Backoff, DegenerateInputs) {
  EXPECT_EQ(backoff_delay(3, milliseconds(0), milliseconds(1000), 0.5), milliseconds(0));
  EXPECT_EQ(backoff_delay(3, milliseconds(-5), milliseconds(1000), 0.5), milliseconds(0));
  EXPECT_EQ(backoff_delay(3, milliseconds(100), milliseconds(0), 0.5), milliseconds(0));
  // Randoms outside [0,1] or NaN are clamped, never trusted.
  EXPECT_EQ(backoff_delay(1, milliseconds(1000), milliseconds(60000), -3.0), milliseconds(500));
  EXPECT_EQ(backoff_delay(1, milliseconds(1000), milliseconds(60000), 7.0), milliseconds(1000));
  EXPECT_EQ(backoff_delay(1, milliseconds(1000), milliseconds(60000), std::nan("")),
            milliseconds(500));
}

TEST(Backoff, StaysWithinHalfAndFullForEveryRandom) {
  for (std::uint32_t f = 1; f < 12; ++f) {
    const std::int64_t d = std::min<std::int64_t>(1000LL << (f - 1), 60000);
    for (double r = 0.0; r < 1.0; r += 0.01) {
      const auto got = backoff_delay(f, milliseconds(1000), milliseconds(60000), r).count();
      EXPECT_GE(got, d / 2);
      EXPECT_LE(got, d);
    }
  }
}

TEST(JitteredInterval, SpreadsAroundTheInterval) {
  const milliseconds i(60000);
  EXPECT_EQ(jittered_interval(i, 0.1, 0.5), milliseconds(60000));
  EXPECT_EQ(jittered_interval(i, 0.1, 0.0), milliseconds(54000));
  EXPECT_EQ(jittered_interval(i, 0.1, 1.0), milliseconds(66000));
  EXPECT_EQ(jittered_interval(i, 0.1, 0.75), milliseconds(63000));
  EXPECT_EQ(jittered_interval(i, 0.0, 0.9), milliseconds(60000));
}

TEST(JitteredInterval, ClampsInputs) {
  EXPECT_EQ(jittered_interval(milliseconds(0), 0.5, 0.3), milliseconds(0));
  EXPECT_EQ(jittered_interval(milliseconds(-10), 0.5, 0.3), milliseconds(0));
  // Fraction above 1 is treated as 1: never negative.
  EXPECT_EQ(jittered_interval(milliseconds(1000), 5.0, 0.0), milliseconds(0));
  EXPECT_EQ(jittered_interval(milliseconds(1000), 5.0, 1.0), milliseconds(2000));
  EXPECT_EQ(jittered_interval(milliseconds(1000), std::nan(""), 1.0), milliseconds(1000));
  EXPECT_EQ(jittered_interval(milliseconds(1000), 0.5, std::nan("")), milliseconds(500));
}
