// Fuzzes ff::json::parse under limits (the entry point for every untrusted byte) and the
// helpers that turn parsed values back into text (js_number_string, variant_name,
// pointer_token). Checks, besides memory errors and UB:
//   - parse never throws and fails only with its documented codes;
//   - an accepted document respects the depth limit, by both depth measures;
//   - parse(dump(v)) == v;
//   - js_number_string(d) reads back as d (shortest round-trip form);
//   - pointer_token escapes reversibly.
#include <cmath>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_support.h"

namespace {

using ff::Json;

std::string unescape_token(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      FF_FUZZ_CHECK(token[i] != '~' && token[i] != '/');
      out += token[i];
    }
  }
  return out;
}

void walk(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      for (const auto& [key, child] : value.items()) {
        FF_FUZZ_CHECK(unescape_token(ff::json::pointer_token(key)) == key);
        walk(child);
      }
      break;
    case Json::value_t::array:
      for (const Json& child : value) walk(child);
      break;
    case Json::value_t::number_float:
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      const double d = value.get<double>();
      if (std::isfinite(d)) {
        const std::string s = ff::json::js_number_string(d);
        FF_FUZZ_CHECK(!s.empty());
        FF_FUZZ_CHECK(std::strtod(s.c_str(), nullptr) == d);
        FF_FUZZ_CHECK(ff::json::variant_name(Json(d)) == s);
      }
      break;
    }
    case Json::value_t::string:
      FF_FUZZ_CHECK(ff::json::variant_name(value) == value.get_ref<const std::string&>());
      break;
    case Json::value_t::boolean:
      FF_FUZZ_CHECK(ff::json::variant_name(value) == (value.get<bool>() ? "true" : "false"));
      break;
    default:
      break;
  }
}

void check_parse(std::string_view text, const ff::json::Limits& limits) {
  auto parsed = ff::json::parse(text, limits);
  if (!parsed) {
    const std::string& code = parsed.error().code;
    FF_FUZZ_CHECK(code == "too_large" || code == "too_deep" || code == "invalid_json");
    if (code == "too_large") FF_FUZZ_CHECK(text.size() > limits.max_bytes);
    return;
  }
  FF_FUZZ_CHECK(text.size() <= limits.max_bytes);
  FF_FUZZ_CHECK(ff::json::nesting_depth(text, limits.max_depth) <= limits.max_depth);
  FF_FUZZ_CHECK(ff::json::depth(*parsed, limits.max_depth) <= limits.max_depth);

  // The dump may be longer than the input ("1e5" -> "100000.0"): only the depth limit applies.
  const std::string dumped = parsed->dump();
  auto again = ff::json::parse(dumped, {.max_bytes = dumped.size(), .max_depth = limits.max_depth});
  FF_FUZZ_CHECK(again.ok());
  FF_FUZZ_CHECK(*again == *parsed);

  walk(*parsed);
  (void)ff::json::variant_name(*parsed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text = ff::fuzz::as_text(data, size);
  check_parse(text, {.max_bytes = 1u << 20, .max_depth = 64});
  check_parse(text, {.max_bytes = 256, .max_depth = 3});
  return 0;
}
