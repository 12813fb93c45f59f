// Resolver-facing internals of ff::eval::Rule; not part of the public API.
//
// Engine::resolve_all evaluates many rules against one context. Those rules read the same
// context values over and over (`tier`, `targetingKey`, ...), so the Engine numbers every
// constant path its rules read from the root of the context (number_paths) and
// resolve_all keeps, per call, a PathMemo of what each number looked up to. Evaluation
// semantics are unchanged: a constant path looked up twice in one unchanged context finds the
// same value.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/eval/logic.h"

namespace ff::eval::detail {

// String equality without a memcmp call for the short strings rules compare and flags are
// named by (context keys, literals, flag keys).
[[gnu::always_inline]] inline bool same_string(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8) {
    if (n > 16) return std::memcmp(a.data(), b.data(), n) == 0;
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a.data(), 8);
    std::memcpy(&y, b.data(), 8);
    if (x != y) return false;
    std::memcpy(&x, a.data() + n - 8, 8);
    std::memcpy(&y, b.data() + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    std::uint32_t x = 0;
    std::uint32_t y = 0;
    std::memcpy(&x, a.data(), 4);
    std::memcpy(&y, b.data(), 4);
    if (x != y) return false;
    std::memcpy(&x, a.data() + n - 4, 4);
    std::memcpy(&y, b.data() + n - 4, 4);
    return x == y;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Path numbers of one Engine. Number 0 is `targetingKey` (fractional's default bucketing).
class PathNumbering {
 public:
  PathNumbering() { ids_.emplace(key({"targetingKey"}), 0); }

  std::uint32_t id(const std::vector<std::string>& segments) {
    return ids_.emplace(key(segments), static_cast<std::uint32_t>(ids_.size())).first->second;
  }
  std::size_t size() const { return ids_.size(); }

 private:
  // Length-prefixed segments: distinct paths never share a key.
  static std::string key(const std::vector<std::string>& segments) {
    std::string k;
    for (const auto& s : segments) {
      k += std::to_string(s.size());
      k += ':';
      k += s;
    }
    return k;
  }

  std::unordered_map<std::string, std::uint32_t> ids_;
};

// What each numbered path looked up to in one context: nullptr until looked up, then the value
// found (a null value stands for an absent one: every reader treats both alike). Not
// copyable; one per context and thread.
class PathMemo {
 public:
  explicit PathMemo(std::size_t paths) {
    if (paths > kInline) {
      heap_.assign(paths, nullptr);
      data_ = heap_.data();
    } else {
      for (std::size_t i = 0; i < paths; ++i) inline_[i] = nullptr;
      data_ = inline_;
    }
  }
  PathMemo(const PathMemo&) = delete;
  PathMemo& operator=(const PathMemo&) = delete;

  const Json*& operator[](std::uint32_t id) { return data_[id]; }

 private:
  static constexpr std::size_t kInline = 64;
  const Json* inline_[kInline];
  std::vector<const Json*> heap_;
  const Json** data_;
};

struct RuleAccess {
  // Numbers the constant root-scope paths `rule` reads. Call before the rule is shared.
  static void number_paths(Rule& rule, PathNumbering& numbering);

  // Rule::evaluate_with for the resolver, returning the result in place: a pointer valid while
  // `storage` (empty on entry; holds a value the rule built), the rule and `context` live
  // unchanged; constants and context values are not copied. nullptr on failure, with the
  // reason in `error`. `memo` (nullptr: none) must come from the numbering this rule was given
  // and be used with `context` only.
  static const Json* evaluate(const Rule& rule, const Json& context, const Env& env,
                              const EvalLimits& limits, PathMemo* memo,
                              std::optional<Json>& storage, std::string& error);
};

}  // namespace ff::eval::detail
