// time_fields(): change-window edges, DST transitions, zone resolution.
#include <gtest/gtest.h>

#include <string>

#include "agent/context/context.h"
#include "agent/context/internal.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/context/context_test_util.h"

namespace ff::context {
namespace {

using testing::TempDir;
using testing::unix_seconds;

Json fields(const std::string& zone, std::int64_t unix_s) {
  auto r = time_fields(zone, unix_seconds(unix_s));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : Json();
}

constexpr std::int64_t kMon0659Utc = 1781506799;  // 2026-06-15T06:59:59Z, Monday

TEST(TimeFields, NineOClockEdgeInBerlinSummer) {
  Json before = fields("Europe/Berlin", kMon0659Utc);  // 08:59:59 CEST
  EXPECT_EQ(before["hour"], 8);
  EXPECT_EQ(before["minute"], 59);
  EXPECT_EQ(before["minuteOfDay"], 8 * 60 + 59);
  Json at = fields("Europe/Berlin", kMon0659Utc + 1);  // 09:00:00 CEST
  EXPECT_EQ(at["hour"], 9);
  EXPECT_EQ(at["minute"], 0);
  EXPECT_EQ(at["minuteOfDay"], 540);
  EXPECT_EQ(at["date"], "2026-06-15");
  EXPECT_EQ(at["weekday"], "mon");
  EXPECT_EQ(at["isoWeekday"], 1);
  EXPECT_EQ(at["zone"], "Europe/Berlin");
  EXPECT_EQ(at["unix"], kMon0659Utc + 1);
}

TEST(TimeFields, SundayToMondayAtLocalMidnight) {
  constexpr std::int64_t kSun2359Berlin = 1781474399;  // 2026-06-14T21:59:59Z
  Json sun = fields("Europe/Berlin", kSun2359Berlin);
  EXPECT_EQ(sun["weekday"], "sun");
  EXPECT_EQ(sun["isoWeekday"], 7);
  EXPECT_EQ(sun["date"], "2026-06-14");
  EXPECT_EQ(sun["minuteOfDay"], 23 * 60 + 59);
  Json mon = fields("Europe/Berlin", kSun2359Berlin + 1);
  EXPECT_EQ(mon["weekday"], "mon");
  EXPECT_EQ(mon["isoWeekday"], 1);
  EXPECT_EQ(mon["date"], "2026-06-15");
  EXPECT_EQ(mon["minuteOfDay"], 0);
  // The same instant in UTC is still Sunday evening.
  Json utc = fields("UTC", kSun2359Berlin + 1);
  EXPECT_EQ(utc["weekday"], "sun");
  EXPECT_EQ(utc["hour"], 22);
}

TEST(TimeFields, AllWeekdayNames) {
  const char* names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 7; ++i) {
    Json f = fields("UTC", kMon0659Utc + static_cast<std::int64_t>(i) * 86400);
    EXPECT_EQ(f["weekday"], names[i]);
    EXPECT_EQ(f["isoWeekday"], i + 1);
  }
}

TEST(TimeFields, BerlinSpringForwardSkipsTwoOClock) {
  constexpr std::int64_t kLastCet = 1774745999;  // 2026-03-29T00:59:59Z = 01:59:59 CET
  Json before = fields("Europe/Berlin", kLastCet);
  EXPECT_EQ(before["hour"], 1);
  EXPECT_EQ(before["minute"], 59);
  Json after = fields("Europe/Berlin", kLastCet + 1);  // 03:00:00 CEST
  EXPECT_EQ(after["hour"], 3);
  EXPECT_EQ(after["minute"], 0);
  EXPECT_EQ(after["minuteOfDay"], 180);
  EXPECT_EQ(after["date"], "2026-03-29");
  EXPECT_EQ(after["weekday"], "sun");
}

TEST(TimeFields, NewYorkFallBackRepeatsOneOClock) {
  constexpr std::int64_t kLastEdt = 1793512799;  // 2026-11-01T05:59:59Z = 01:59:59 EDT
  Json before = fields("America/New_York", kLastEdt);
  EXPECT_EQ(before["hour"], 1);
  EXPECT_EQ(before["minute"], 59);
  Json after = fields("America/New_York", kLastEdt + 1);  // 01:00:00 EST, again
  EXPECT_EQ(after["hour"], 1);
  EXPECT_EQ(after["minute"], 0);
  EXPECT_EQ(after["date"], "2026-11-01");
  EXPECT_EQ(after["unix"], kLastEdt + 1);
}

TEST(TimeFields, UnknownZoneIsAnError) {
  auto r = time_fields("Mars/Olympus_Mons", unix_seconds(kMon0659Utc));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "unknown_time_zone");
  EXPECT_FALSE(detail::resolve_zone("").ok());
  EXPECT_EQ(*detail::resolve_zone("Europe/Berlin"), "Europe/Berlin");
}

TEST(TimeFields, NegativeAndSubSecondTimesFloor) {
  auto r = time_fields("UTC", std::chrono::system_clock::time_point(std::chrono::milliseconds(-1)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["unix"], -1);
  EXPECT_EQ((*r)["date"], "1969-12-31");
  EXPECT_EQ((*r)["minuteOfDay"], 1439);
}

TEST(HostTimeZone, FromFakeRoot) {
  TempDir root;
  EXPECT_EQ(host_time_zone(root.path()), "UTC");  // nothing names a zone
  root.write("etc/timezone", "America/New_York\n");
  EXPECT_EQ(host_time_zone(root.path()), "America/New_York");
  root.mkdir("etc");
  std::filesystem::create_symlink("../usr/share/zoneinfo/posix/Europe/Berlin",
                                  root.file("etc/localtime"));
  EXPECT_EQ(host_time_zone(root.path()), "Europe/Berlin");  // the symlink wins over the file
}

TEST(HostTimeZone, RealHostResolves) {
  EXPECT_TRUE(detail::resolve_zone(host_time_zone("")).ok()) << host_time_zone("");
}

TEST(Timestamp, Rfc3339Utc) {
  EXPECT_EQ(detail::utc_timestamp(unix_seconds(kMon0659Utc)), "2026-06-15T06:59:59Z");
}

}  // namespace
}  // namespace ff::context
