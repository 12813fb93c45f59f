#include "common/eval/ops.h"

namespace ff::eval {
namespace {

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A numeric field of golang.org/x/mod/semver: "0" or digits without a leading zero.
bool parse_num(std::string_view s, std::string& out) {
  if (!is_digits(s) || (s.size() > 1 && s[0] == '0')) return false;
  out = std::string(s);
  return true;
}

int compare_num(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool valid_ident(std::string_view s, bool prerelease) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) return false;
  }
  // Numeric pre-release identifiers must not have leading zeros (semver 2.0.0 §9).
  return !(prerelease && is_digits(s) && s.size() > 1 && s[0] == '0');
}

bool valid_dotted(std::string_view s, bool prerelease) {
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!valid_ident(part, prerelease)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

int compare_ident(std::string_view a, std::string_view b) {
  const bool an = is_digits(a);
  const bool bn = is_digits(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    const int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (an) return -1;  // numeric identifiers have lower precedence
  if (bn) return 1;
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

// flagd normalises the operand (semver.go): without a leading "v", a leading "V" is dropped
// and "v" prepended; then golang.org/x/mod/semver decides validity. That accepts "v1" and
// "v1.2" as shorthands for v1.0.0 / v1.2.0 (but not with a pre-release), ignores +build.
std::optional<SemVer> parse_semver(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text[0] == 'v') {
    text.remove_prefix(1);
  } else if (text[0] == 'V') {
    text.remove_prefix(1);
  }
  SemVer v;
  std::string_view rest = text;
  std::string_view build;
  const auto plus = rest.find('+');
  if (plus != std::string_view::npos) {
    build = rest.substr(plus + 1);
    rest = rest.substr(0, plus);
    if (!valid_dotted(build, false)) return std::nullopt;
  }
  std::string_view pre;
  const auto dash = rest.find('-');
  if (dash != std::string_view::npos) {
    pre = rest.substr(dash + 1);
    rest = rest.substr(0, dash);
    if (!valid_dotted(pre, true)) return std::nullopt;
  }
  std::string_view fields[3];
  int count = 0;
  std::size_t start = 0;
  while (true) {
    if (count == 3) return std::nullopt;
    const auto dot = rest.find('.', start);
    fields[count++] = rest.substr(start, dot == std::string_view::npos ? rest.npos : dot - start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // Shorthands ("v1", "v1.2") are valid only without pre-release or build.
  if (count < 3 && (dash != std::string_view::npos || plus != std::string_view::npos)) {
    return std::nullopt;
  }
  if (!parse_num(fields[0], v.major)) return std::nullopt;
  if (count > 1 && !parse_num(fields[1], v.minor)) return std::nullopt;
  if (count > 2 && !parse_num(fields[2], v.patch)) return std::nullopt;
  v.prerelease = std::string(pre);
  return v;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  if (const int c = compare_num(a.major, b.major); c != 0) return c;
  if (const int c = compare_num(a.minor, b.minor); c != 0) return c;
  if (const int c = compare_num(a.patch, b.patch); c != 0) return c;
  if (a.prerelease == b.prerelease) return 0;
  if (a.prerelease.empty()) return 1;  // a release outranks its pre-releases
  if (b.prerelease.empty()) return -1;
  std::string_view x = a.prerelease;
  std::string_view y = b.prerelease;
  while (true) {
    const auto dx = x.find('.');
    const auto dy = y.find('.');
    const int c = compare_ident(x.substr(0, dx), y.substr(0, dy));
    if (c != 0) return c;
    if (dx == std::string_view::npos || dy == std::string_view::npos) {
      if (dx == dy) return 0;
      return dx == std::string_view::npos ? -1 : 1;  // fewer identifiers sort first
    }
    x.remove_prefix(dx + 1);
    y.remove_prefix(dy + 1);
  }
}

}  // namespace ff::eval
