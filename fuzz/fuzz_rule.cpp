// Fuzzes the JSON Logic engine directly. Input: the first half is a rule, the second half an
// evaluation context (both JSON; seeds pad the shorter half with spaces). The rule is compiled
// and evaluated against that context and the fixed ones. Checks, besides memory errors, UB and
// runaway work (EvalLimits must bound every evaluation):
//   - compile and evaluate fail only with an Error carrying a code;
//   - evaluation is deterministic (same context, same result);
//   - truthy() and variant_name() accept any result.
#include <string>
#include <vector>

#include "common/eval/logic.h"
#include "fuzz/fuzz_support.h"

namespace {

using ff::Json;

std::string render(const ff::Result<Json>& r) {
  if (!r) return "error:" + r.error().code;
  // Rule results may be built by string operators (cat, substr): do not require valid UTF-8.
  return r->dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view input = ff::fuzz::as_text(data, size);
  const std::string_view rule_text = input.substr(0, size / 2);
  const std::string_view context_text = input.substr(size / 2);

  auto logic = ff::json::parse(rule_text, {.max_bytes = 1u << 16, .max_depth = 32});
  if (!logic) return 0;
  auto rule = ff::eval::Rule::compile(*logic);
  if (!rule) {
    FF_FUZZ_CHECK(!rule.error().code.empty());
    return 0;
  }

  std::vector<const Json*> contexts;
  auto parsed = ff::json::parse(context_text, {.max_bytes = 1u << 16, .max_depth = 16});
  if (parsed) contexts.push_back(&*parsed);
  for (const Json& c : ff::fuzz::fixed_contexts()) contexts.push_back(&c);

  const ff::eval::Env env{.flag_key = "fuzz-flag", .timestamp = ff::fuzz::kNow};
  const ff::eval::EvalLimits limits{.max_steps = 50000, .max_build = 50000};
  for (const Json* context : contexts) {
    const auto first = rule->evaluate(*context, env, limits);
    if (!first) FF_FUZZ_CHECK(!first.error().code.empty());
    if (first) {
      (void)ff::eval::truthy(*first);
      (void)ff::json::variant_name(*first);
    }
    FF_FUZZ_CHECK(render(rule->evaluate(*context, env, limits)) == render(first));
  }
  return 0;
}
