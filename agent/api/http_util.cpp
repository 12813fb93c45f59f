#include "agent/api/http_util.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <limits>

namespace ff::api {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return std::nullopt;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<Target> parse_target(std::string_view target) {
  std::string absolute_rest;
  if (target.starts_with("http://") || target.starts_with("https://")) {
    // Absolute-form: drop scheme and authority; what follows is the path (possibly empty).
    const auto authority = target.find("//") + 2;
    const auto end = target.find_first_of("/?#", authority);
    absolute_rest = "/";
    if (end != std::string_view::npos) {
      absolute_rest = target[end] == '/' ? std::string(target.substr(end))
                                         : "/" + std::string(target.substr(end));
    }
    target = absolute_rest;
  }
  if (target.empty() || target.front() != '/') return std::nullopt;
  Target t;
  const auto q = target.find('?');
  t.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    t.query.emplace_back(std::move(*key), std::move(*value));
  }
  return t;
}

std::optional<std::string> query_param(const Target& t, std::string_view name) {
  for (const auto& [k, v] : t.query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_index(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<std::chrono::milliseconds> parse_wait(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  const auto n = static_cast<std::int64_t>(*parse_index(text.substr(0, digits)));
  const std::string_view unit = text.substr(digits);
  std::int64_t ms = 0;
  if (unit.empty() || unit == "s") {
    ms = n * 1000;
  } else if (unit == "ms") {
    ms = n;
  } else if (unit == "m") {
    ms = n * 60'000;
  } else if (unit == "h") {
    ms = n * 3'600'000;
  } else {
    return std::nullopt;
  }
  if (ms > 86'400'000) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

std::string rfc3339_utc(std::int64_t unix_ms) {
  std::int64_t secs = unix_ms / 1000;
  std::int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "1970-01-01T00:00:00.000Z";
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf.data();
}

std::string strong_etag(std::string_view body) {
  // FNV-1a 64 and a multiply-xorshift hash over the same bytes with a different state update.
  std::uint64_t fnv = 0xcbf29ce484222325ULL;
  std::uint64_t mix = 0x9e3779b97f4a7c15ULL ^ body.size();
  for (unsigned char c : body) {
    fnv ^= c;
    fnv *= 0x100000001b3ULL;
    mix = (mix ^ c) * 0xff51afd7ed558ccdULL;
    mix ^= mix >> 29;
  }
  mix ^= mix >> 33;
  mix *= 0xc4ceb9fe1a85ec53ULL;
  mix ^= mix >> 33;
  std::array<char, 40> buf{};
  std::snprintf(buf.data(), buf.size(), "\"%016llx%016llx\"", static_cast<unsigned long long>(fnv),
                static_cast<unsigned long long>(mix));
  return buf.data();
}

bool if_none_match_matches(std::string_view header, std::string_view etag) {
  auto opaque = [](std::string_view tag) {
    tag = trim(tag);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
  };
  const std::string_view want = opaque(etag);
  if (trim(header) == "*") return true;
  // Entity tags are quoted and may contain commas, so split on commas outside quotes.
  bool in_quotes = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= header.size(); ++i) {
    if (i == header.size() || (header[i] == ',' && !in_quotes)) {
      const std::string_view tag = opaque(header.substr(start, i - start));
      if (!tag.empty() && tag == want) return true;
      start = i + 1;
    } else if (header[i] == '"') {
      in_quotes = !in_quotes;
    }
  }
  return false;
}

}  // namespace ff::api
