#include "common/eval/ops.h"

namespace ff::eval {
namespace {

constexpr std::string_view kZero = "0";

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A numeric field of golang.org/x/mod/semver: "0" or digits without a leading zero.
bool valid_num(std::string_view s) {
  return is_digits(s) && !(s.size() > 1 && s[0] == '0');
}

// Numeric fields compare as golang.org/x/mod/semver does: by length, then lexically.
int compare_num(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;  // digits: no sign issue
  }
  return 0;
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
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (!valid_ident(s.substr(start, i - start), prerelease)) return false;
      start = i + 1;
    }
  }
  return true;
}

int compare_ident(std::string_view a, std::string_view b) {
  const bool an = is_digits(a);
  const bool bn = is_digits(b);
  if (an && bn) return compare_num(a, b);
  if (an) return -1;  // numeric identifiers have lower precedence
  if (bn) return 1;
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

namespace {

// The general form (pre-release, build metadata, anything unusual); `text` without its v/V.
[[gnu::noinline]] bool parse_general(std::string_view text, SemVerView& out) {
  const std::size_t n = text.size();
  // Build metadata starts at the first '+'; the pre-release at the first '-' before it.
  std::size_t plus = n;
  std::size_t dash = n;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (c == '+') {
      plus = i;
      break;
    }
    if (c == '-' && dash == n) dash = i;
  }
  if (plus < n && !valid_dotted(text.substr(plus + 1), false)) return false;
  std::string_view pre;
  if (dash < plus) {
    pre = text.substr(dash + 1, plus - dash - 1);
    if (!valid_dotted(pre, true)) return false;
  }
  const std::size_t core_end = dash < plus ? dash : plus;
  std::string_view fields[3] = {kZero, kZero, kZero};
  int count = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= core_end; ++i) {
    if (i == core_end || text[i] == '.') {
      if (count == 3) return false;
      fields[count++] = text.substr(start, i - start);
      start = i + 1;
    }
  }
  // Shorthands ("v1", "v1.2") are valid only without pre-release or build.
  if (count < 3 && core_end < n) return false;
  for (int i = 0; i < count; ++i) {
    if (!valid_num(fields[i])) return false;
  }
  out.major = fields[0];
  out.minor = fields[1];
  out.patch = fields[2];
  out.prerelease = pre;
  return true;
}

}  // namespace

// flagd normalises the operand (semver.go): without a leading "v", a leading "V" is dropped
// and "v" prepended; then golang.org/x/mod/semver decides validity. That accepts "v1" and
// "v1.2" as shorthands for v1.0.0 / v1.2.0 (but not with a pre-release), ignores +build.
bool parse_semver(std::string_view text, SemVerView& out) {
  if (text.empty()) return false;
  if (text[0] == 'v' || text[0] == 'V') text.remove_prefix(1);
  // The usual form, digits and dots only ("2.10.19", "1.2"), in one pass; anything else takes
  // the general path.
  const char* p = text.data();
  const std::size_t n = text.size();
  std::size_t dots[2] = {n, n};
  int count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (static_cast<unsigned char>(c - '0') < 10) continue;
    if (c != '.') return parse_general(text, out);
    if (count == 2) return false;  // a fourth field, whatever follows
    dots[count++] = i;
  }
  const std::string_view major(p, dots[0]);
  std::string_view minor = kZero;
  std::string_view patch = kZero;
  if (count > 0) minor = std::string_view(p + dots[0] + 1, dots[1] - dots[0] - 1);
  if (count > 1) patch = std::string_view(p + dots[1] + 1, n - dots[1] - 1);
  if (!valid_num(major) || !valid_num(minor) || !valid_num(patch)) return false;
  out.major = major;
  out.minor = minor;
  out.patch = patch;
  out.prerelease = {};
  return true;
}

std::optional<SemVer> parse_semver(std::string_view text) {
  SemVerView v;
  if (!parse_semver(text, v)) return std::nullopt;
  SemVer out;
  out.major = std::string(v.major);
  out.minor = std::string(v.minor);
  out.patch = std::string(v.patch);
  out.prerelease = std::string(v.prerelease);
  return out;
}

int compare_semver(const SemVerView& a, const SemVerView& b) {
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

int compare_semver(const SemVer& a, const SemVer& b) {
  return compare_semver(SemVerView{a.major, a.minor, a.patch, a.prerelease},
                        SemVerView{b.major, b.minor, b.patch, b.prerelease});
}

std::optional<SemVerOp> parse_semver_op(std::string_view op) {
  if (op == "=") return SemVerOp::kEq;
  if (op == "!=") return SemVerOp::kNe;
  if (op == "<") return SemVerOp::kLt;
  if (op == "<=") return SemVerOp::kLe;
  if (op == ">") return SemVerOp::kGt;
  if (op == ">=") return SemVerOp::kGe;
  if (op == "^") return SemVerOp::kCaret;
  if (op == "~") return SemVerOp::kTilde;
  return std::nullopt;
}

bool apply_semver_op(const SemVerView& a, SemVerOp op, const SemVerView& b) {
  switch (op) {
    case SemVerOp::kCaret:
      return a.major == b.major;
    case SemVerOp::kTilde:
      return a.major == b.major && a.minor == b.minor;
    default:
      break;
  }
  const int c = compare_semver(a, b);
  switch (op) {
    case SemVerOp::kEq:
      return c == 0;
    case SemVerOp::kNe:
      return c != 0;
    case SemVerOp::kLt:
      return c < 0;
    case SemVerOp::kLe:
      return c <= 0;
    case SemVerOp::kGt:
      return c > 0;
    case SemVerOp::kGe:
      return c >= 0;
    default:
      return false;
  }
}

}  // namespace ff::eval
