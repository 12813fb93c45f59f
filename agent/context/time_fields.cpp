// Change-window fields and time-zone resolution (howardhinnant date, tz database read from
// /usr/share/zoneinfo: USE_OS_TZDB, the Debian libdate-tz build).
#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include "agent/context/context.h"
#include "agent/context/internal.h"

namespace ff::context {
namespace {

// "/usr/share/zoneinfo/Europe/Berlin", "../usr/share/zoneinfo/posix/Europe/Berlin" -> the IANA
// name; "" when the path does not go through a zoneinfo directory.
std::string zone_from_path(const std::string& path) {
  static constexpr std::string_view kMarker = "zoneinfo/";
  auto pos = path.rfind(kMarker);
  if (pos == std::string::npos) return "";
  std::string name = path.substr(pos + kMarker.size());
  // posix/ and right/ are alternative trees of the same zones; right/ differs only in leap
  // seconds, which the fields below do not show.
  for (std::string_view prefix : {"posix/", "right/"}) {
    if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
  }
  return name;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string host_time_zone(const std::string& root) {
  if (root.empty()) {
    if (const char* tz = std::getenv("TZ");
        tz != nullptr && *tz != '\0') {  // NOLINT(concurrency-mt-unsafe)
      std::string value = tz;
      if (value.front() == ':') value.erase(0, 1);
      if (!value.empty() && value.front() == '/') {
        std::string from_path = zone_from_path(value);
        if (!from_path.empty()) return from_path;
        // TZ=:/etc/localtime and the like: fall through to the files.
      } else if (!value.empty()) {
        return value;  // validated by the caller: a POSIX TZ string is an unknown zone
      }
    }
  }
  std::error_code ec;
  auto target = std::filesystem::read_symlink(root + "/etc/localtime", ec);
  if (!ec) {
    std::string name = zone_from_path(target.string());
    if (!name.empty()) return name;
  }
  auto file = detail::read_file(root + "/etc/timezone", 4096);
  if (file.ok()) {
    std::string name = trim(*file);
    if (!name.empty()) return name;
  }
  return "UTC";
}

namespace detail {

Result<std::string> resolve_zone(const std::string& name) {
  try {
    const date::time_zone* zone = date::locate_zone(name);
    return std::string(zone->name());
  } catch (const std::exception& e) {
    return Error{"unknown_time_zone", "unknown time zone \"" + name + "\": " + e.what(), ""};
  }
}

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  return date::format("%FT%TZ", date::floor<std::chrono::seconds>(t));
}

}  // namespace detail

Result<Json> time_fields(const std::string& zone, std::chrono::system_clock::time_point now) {
  static constexpr std::array<const char*, 7> kDays = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(zone);
  } catch (const std::exception& e) {
    return Error{"unknown_time_zone", "unknown time zone \"" + zone + "\": " + e.what(), ""};
  }
  auto secs = date::floor<std::chrono::seconds>(now);
  auto local = tz->to_local(secs);
  auto day = date::floor<date::days>(local);
  date::year_month_day ymd{day};
  date::weekday wd{day};
  date::hh_mm_ss<std::chrono::seconds> tod{local - day};
  unsigned iso = wd.iso_encoding();  // 1 = Monday .. 7 = Sunday
  long hour = tod.hours().count();
  long minute = tod.minutes().count();
  Json out = Json::object();
  out["zone"] = std::string(tz->name());
  out["unix"] = static_cast<std::int64_t>(secs.time_since_epoch().count());
  out["date"] = date::format("%F", ymd);
  out["weekday"] = kDays.at(iso - 1);
  out["isoWeekday"] = iso;
  out["hour"] = hour;
  out["minute"] = minute;
  out["minuteOfDay"] = hour * 60 + minute;
  return out;
}

}  // namespace ff::context
