// JSON Logic compiled to a tree, with flagd's custom operators.
//
// A rule is compiled once (operator names resolved to an enum, constant paths split, constant
// subtrees kept as JSON) and then evaluated any number of times, concurrently, against an
// evaluation context. Semantics follow JSON Logic as implemented by flagd's evaluators:
// json-logic truthiness (false, null, 0, "", [] and {} are falsy), JavaScript-style coercion
// for ==, <, + and friends, and `null` (never false) from flagd's custom operators on bad input.
// Comparisons follow flagd Go: an object or array equals and orders with nothing (false, `!=`
// true), null equals only null, a non-numeric string against a number is false.
//
// Runtime failures (arithmetic on a non-number, dividing by zero, exceeding the work budget)
// are reported as an error; the resolver maps them to PARSE_ERROR as flagd does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/json/json.h"

namespace ff::eval {

struct Node;
namespace detail {
struct RuleAccess;
}

// Values injected as `$flagd.*` and used by `fractional`.
struct Env {
  std::string_view flag_key;
  std::int64_t timestamp = 0;  // Unix seconds ($flagd.timestamp)
  // Optional: `flag_key` as a JSON string, kept by the caller for repeated evaluations so that
  // `$flagd.flagKey` costs no allocation. Must equal `flag_key` when set.
  const Json* flag_key_json = nullptr;
};

struct EvalLimits {
  // Upper bound on operator applications and array elements visited in one evaluation.
  std::uint64_t max_steps = 1'000'000;
  // Upper bound on the size of arrays/strings an evaluation may build.
  std::size_t max_build = 1'000'000;
};

class Rule {
 public:
  Rule();
  ~Rule();
  Rule(Rule&&) noexcept;
  Rule& operator=(Rule&&) noexcept;

  // Compiles `logic`. Errors: unknown operator, malformed arguments, too deep.
  static Result<Rule> compile(const Json& logic);

  // Evaluates against `context` (an object; anything else behaves as an empty object).
  // Thread-safe: a Rule is immutable after compile.
  Result<Json> evaluate(const Json& context, const Env& env, const EvalLimits& limits = {}) const;

  // Allocation-free variant for the resolver's hot path: on success calls `sink(result, user)`
  // with a reference valid only during the call and returns true; on failure stores the reason
  // in `error` and returns false.
  using Sink = void (*)(const Json& result, void* user);
  bool evaluate_with(const Json& context, const Env& env, const EvalLimits& limits, Sink sink,
                     void* user, std::string& error) const;

  bool empty() const { return root_ == nullptr; }

  // Calls `fn(value, user)` for every string, boolean and number held in the rule's constants,
  // at the address from which an evaluation returns it by reference (`evaluate_with` passes the
  // sink that very object). Lets the resolver map constant results to variants once, when the
  // Engine is built.
  using ConstantVisitor = void (*)(const Json& value, void* user);
  void for_each_constant(ConstantVisitor fn, void* user) const;

 private:
  friend struct detail::RuleAccess;
  std::unique_ptr<Node> root_;
};

// json-logic truthiness as implemented by flagd's evaluators.
bool truthy(const Json& value);

}  // namespace ff::eval
