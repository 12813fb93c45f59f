// Helpers shared by the rule-engine tests (tests/unit/eval/*_test.cpp).
//
// Vectors in these tests come from flagd's specification and OpenFeature's flagd-testbed, never
// from the engine's own output. Each test names its source: "flagd-notes §N" is
// shared/reference/flagd-notes.md, "testbed <file>" is open-feature/flagd-testbed, "jsonlogic.com"
// is the JSON Logic operations reference, and "logic.h contract" marks a semantic the lead chose
// and wrote down in common/eval/logic.h.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/eval/logic.h"
#include "common/eval/resolver.h"
#include "common/flags/model.h"
#include "common/json/json.h"

namespace ff::eval::test {

inline Json j(std::string_view text) {
  return Json::parse(text);
}

// Compiles `rule` and evaluates it; a compile failure is returned as the error.
inline Result<Json> run(const Json& rule, const Json& context = Json::object(),
                        std::string_view flag_key = "test-flag", std::int64_t now = 0,
                        const EvalLimits& limits = {}) {
  auto compiled = Rule::compile(rule);
  if (!compiled) return compiled.error();
  const Env env{flag_key, now};
  return compiled->evaluate(context, env, limits);
}

// Success when `rule` on `context` evaluates to `expected`. Numbers compare by value, so an
// integer result equals the same value held as a double.
inline ::testing::AssertionResult evals_to(std::string_view rule, std::string_view context,
                                           std::string_view expected,
                                           std::string_view flag_key = "test-flag") {
  const Json want = j(expected);
  auto got = run(j(rule), j(context), flag_key);
  if (!got) {
    return ::testing::AssertionFailure() << rule << " on " << context << ": error "
                                         << got.error().to_string() << ", expected " << want.dump();
  }
  if (*got != want) {
    return ::testing::AssertionFailure()
           << rule << " on " << context << ": got " << got->dump() << ", expected " << want.dump();
  }
  return ::testing::AssertionSuccess();
}

// Success when compiling or evaluating `rule` on `context` reports an error with a code.
inline ::testing::AssertionResult fails(std::string_view rule, std::string_view context = "{}") {
  auto got = run(j(rule), j(context));
  if (got) {
    return ::testing::AssertionFailure()
           << rule << " on " << context << ": expected an error, got " << got->dump();
  }
  if (got.error().code.empty()) {
    return ::testing::AssertionFailure() << rule << ": error without a code";
  }
  return ::testing::AssertionSuccess();
}

// Builds an Engine from a definitions document; nullptr (with a test failure) if it is refused.
inline std::unique_ptr<Engine> make_engine(std::string_view text) {
  auto set = flags::load(text);
  if (!set) {
    ADD_FAILURE() << "flag set refused: " << set.error().to_string();
    return nullptr;
  }
  return std::make_unique<Engine>(std::move(*set));
}

inline std::string describe(const Resolution& r) {
  std::string out = "reason=";
  out += to_string(r.reason);
  if (r.error != ErrorCode::kNone) {
    out += " error=";
    out += to_string(r.error);
  }
  out += " variant=";
  out += r.variant ? *r.variant : std::string("<none>");
  out += " value=";
  out += r.value ? r.value->dump() : std::string("<none>");
  if (!r.error_details.empty()) out += " details=" + r.error_details;
  return out;
}

// A successful resolution: `reason`, variant `variant` with value `value` (JSON), no error.
inline ::testing::AssertionResult resolved(const Resolution& r, Reason reason,
                                           std::string_view variant, std::string_view value) {
  const Json want = j(value);
  if (r.reason != reason || r.error != ErrorCode::kNone || r.variant == nullptr ||
      r.value == nullptr || *r.variant != variant || *r.value != want) {
    return ::testing::AssertionFailure()
           << "expected reason=" << to_string(reason) << " variant=" << variant
           << " value=" << want.dump() << ", got " << describe(r);
  }
  return ::testing::AssertionSuccess();
}

// A resolution without value or variant (the caller's default applies).
inline ::testing::AssertionResult no_value(const Resolution& r, Reason reason,
                                           ErrorCode error = ErrorCode::kNone) {
  if (r.reason != reason || r.error != error || r.value != nullptr || r.variant != nullptr) {
    return ::testing::AssertionFailure()
           << "expected reason=" << to_string(reason)
           << (error == ErrorCode::kNone ? "" : std::string(" error=") + to_string(error))
           << " without value, got " << describe(r);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace ff::eval::test
