// Fuzzes what the agent does with every definitions payload it receives:
// bytes -> ff::flags::load -> ff::eval::Engine -> resolve_all / resolve -> OFREP JSON.
//
// Input: a definitions document, optionally followed by a NUL byte and a JSON evaluation
// context; every flag is resolved against the fixed contexts and that one. Besides memory
// errors and UB, it checks the resolution contract of common/eval/resolver.h.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/eval/ofrep.h"
#include "common/eval/resolver.h"
#include "common/flags/model.h"
#include "fuzz/fuzz_support.h"

namespace {

using ff::Json;
using ff::eval::ErrorCode;
using ff::eval::Reason;
using ff::eval::Resolution;
using ff::eval::ValueType;

std::optional<ValueType> type_of(const Json& value) {
  if (value.is_boolean()) return ValueType::kBoolean;
  if (value.is_string()) return ValueType::kString;
  if (value.is_number()) return ValueType::kNumber;
  if (value.is_object()) return ValueType::kObject;
  return std::nullopt;
}

// The contract every Resolution of flag `flag` obeys, whatever the definitions.
void check_resolution(const Resolution& r, const ff::flags::Flag& flag) {
  FF_FUZZ_CHECK(r.key == flag.key);
  FF_FUZZ_CHECK((r.value == nullptr) == (r.variant == nullptr));
  FF_FUZZ_CHECK((r.reason == Reason::kError) == (r.error != ErrorCode::kNone));
  FF_FUZZ_CHECK(r.error != ErrorCode::kFlagNotFound);
  FF_FUZZ_CHECK(r.metadata != nullptr);
  FF_FUZZ_CHECK((r.reason == Reason::kDisabled) == (flag.state == ff::flags::State::kDisabled));
  if (r.reason == Reason::kDisabled || r.reason == Reason::kError) {
    FF_FUZZ_CHECK(r.value == nullptr);
  }
  if (r.reason == Reason::kStatic || r.reason == Reason::kTargetingMatch) {
    FF_FUZZ_CHECK(r.value != nullptr);
  }
  if (r.reason == Reason::kStatic) FF_FUZZ_CHECK(flag.targeting.is_null());
  if (r.value != nullptr) {
    // The value is the named variant's, as defined.
    FF_FUZZ_CHECK(flag.variants.contains(*r.variant));
    FF_FUZZ_CHECK(flag.variants.at(*r.variant) == *r.value);
  }
  if (r.reason == Reason::kDefault && r.value != nullptr) {
    FF_FUZZ_CHECK(flag.default_variant.has_value() && *flag.default_variant == *r.variant);
  }
}

template <typename T>
bool same_pointee(const T* a, const T* b) {
  return a == nullptr ? b == nullptr : b != nullptr && *a == *b;
}

bool same(const Resolution& a, const Resolution& b) {
  return a.key == b.key && a.reason == b.reason && a.error == b.error &&
         same_pointee(a.value, b.value) && same_pointee(a.variant, b.variant);
}

void check_ofrep(const Resolution& r) {
  const int status = ff::eval::ofrep_status(r);
  FF_FUZZ_CHECK(status == 200 || status == 400 || status == 404);
  // Strict UTF-8 on purpose: this text goes on the wire.
  (void)ff::eval::to_ofrep(r).dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view input = ff::fuzz::as_text(data, size);
  std::string_view definitions = input;
  std::optional<Json> extra_context;
  if (const auto nul = input.find('\0'); nul != std::string_view::npos) {
    definitions = input.substr(0, nul);
    auto parsed = ff::json::parse(input.substr(nul + 1), {.max_bytes = 1u << 16, .max_depth = 16});
    if (parsed) extra_context = std::move(*parsed);
  }

  ff::flags::LoadOptions options;
  options.limits = {.max_bytes = 1u << 20, .max_depth = 48};
  options.max_targeting_nodes = 20000;
  auto set = ff::flags::load(definitions, options);
  if (!set) {
    FF_FUZZ_CHECK(!set.error().code.empty());
    return 0;
  }
  for (const auto& [key, flag] : set->flags) FF_FUZZ_CHECK(key == flag.key);
  const Json set_metadata = set->metadata;
  const std::size_t flag_count = set->flags.size();

  const ff::eval::Engine engine(std::move(*set), {.max_steps = 20000, .max_build = 20000});
  FF_FUZZ_CHECK(engine.size() == flag_count);
  const auto& flags = engine.flag_set().flags;
  (void)engine.compile_errors();

  std::vector<const Json*> contexts;
  for (const Json& c : ff::fuzz::fixed_contexts()) contexts.push_back(&c);
  if (extra_context) contexts.push_back(&*extra_context);

  std::vector<Resolution> all;
  for (const Json* context : contexts) {
    all.clear();
    engine.resolve_all(*context, ff::fuzz::kNow, all);
    FF_FUZZ_CHECK(all.size() == flag_count);
    auto flag = flags.begin();
    for (const Resolution& r : all) {
      check_resolution(r, flag->second);
      ++flag;
    }
    (void)ff::eval::to_ofrep_bulk(all, set_metadata).dump();

    // Single-flag resolution agrees with the bulk one; a type check only adds TYPE_MISMATCH.
    // Bounded so that large inputs stay fast.
    std::size_t budget = 32;
    for (const Resolution& bulk : all) {
      if (budget-- == 0) break;
      const ff::flags::Flag& f = flags.find(bulk.key)->second;
      const Resolution r = engine.resolve(bulk.key, *context, ff::fuzz::kNow);
      FF_FUZZ_CHECK(same(r, bulk));
      check_ofrep(r);
      for (const ValueType type :
           {ValueType::kBoolean, ValueType::kString, ValueType::kNumber, ValueType::kObject}) {
        const Resolution typed = engine.resolve(bulk.key, *context, ff::fuzz::kNow, type);
        check_resolution(typed, f);
        check_ofrep(typed);
        const auto actual = r.value != nullptr ? type_of(*r.value) : std::nullopt;
        if (actual && *actual != type) {
          FF_FUZZ_CHECK(typed.reason == Reason::kError && typed.error == ErrorCode::kTypeMismatch);
        } else if (actual) {
          FF_FUZZ_CHECK(same(typed, r));
        }
      }
    }

    constexpr std::string_view kMissing = "\x01no such flag";
    if (flags.contains(kMissing)) continue;
    const Resolution missing = engine.resolve(kMissing, *context, ff::fuzz::kNow);
    FF_FUZZ_CHECK(missing.reason == Reason::kError && missing.error == ErrorCode::kFlagNotFound);
    FF_FUZZ_CHECK(missing.value == nullptr);
    FF_FUZZ_CHECK(ff::eval::ofrep_status(missing) == 404);
  }
  return 0;
}
