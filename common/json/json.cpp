#include "common/json/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace ff {

std::string Error::to_string() const {
  std::string out = code;
  if (!path.empty()) {
    out += " at ";
    out += path;
  }
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

namespace json {

std::size_t nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          max_depth = depth;
          if (max_depth > limit) return max_depth;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return max_depth;
}

Result<Json> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return Error{"too_large",
                 "document is " + std::to_string(text.size()) + " bytes, limit is " +
                     std::to_string(limits.max_bytes),
                 ""};
  }
  // Checked before parsing: nlohmann's parser is iterative, but everything that walks the
  // result afterwards (compilers, validators, evaluators) recurses.
  if (nesting_depth(text, limits.max_depth) > limits.max_depth) {
    return Error{"too_deep", "nesting deeper than " + std::to_string(limits.max_depth), ""};
  }
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // Re-parse with exceptions only to obtain a positioned message; this path is cold.
    std::string message = "malformed JSON";
    try {
      const Json again = Json::parse(text.begin(), text.end());
      (void)again;
    } catch (const Json::exception& e) {  // parse_error, or out_of_range for 1e400
      message = e.what();
    }
    return Error{"invalid_json", message, ""};
  }
  return value;
}

std::size_t depth(const Json& value, std::size_t limit) {
  if (!value.is_structured()) return 0;
  if (limit == 0) return 1;
  std::size_t deepest = 0;
  for (const auto& child : value) {
    const std::size_t d = depth(child, limit - 1);
    if (d > deepest) deepest = d;
    if (deepest >= limit) break;
  }
  return deepest + 1;
}

std::string pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string js_number_string(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value == 0) return "0";
  if (std::trunc(value) == value && std::fabs(value) < 1e21) {
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.0f", value);
    return std::string(buf, static_cast<std::size_t>(n));
  }
  char buf[512];
  // JS uses plain decimal notation for 1e-7 < |x| < 1e21 and exponent notation otherwise,
  // always with the shortest digits that round-trip.
  const double mag = std::fabs(value);
  const auto fmt =
      (mag >= 1e-6 && mag < 1e21) ? std::chars_format::fixed : std::chars_format::scientific;
  auto res = std::to_chars(buf, buf + sizeof buf, value, fmt);
  std::string s(buf, res.ptr);
  // JS writes exponents as "1e-7" / "1e+21"; to_chars writes "1e-07" / "1e+21".
  const auto e = s.find('e');
  if (e != std::string::npos) {
    std::string mant = s.substr(0, e);
    std::string exp = s.substr(e + 1);
    const char sign = (exp[0] == '-' || exp[0] == '+') ? exp[0] : '+';
    std::size_t start = (exp[0] == '-' || exp[0] == '+') ? 1 : 0;
    while (start + 1 < exp.size() && exp[start] == '0') ++start;
    s = mant + "e" + sign + exp.substr(start);
  }
  return s;
}

std::string variant_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return value.get_ref<const std::string&>();
    case Json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer:
      return std::to_string(value.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(value.get<std::uint64_t>());
    case Json::value_t::number_float:
      return js_number_string(value.get<double>());
    default:
      return value.dump();
  }
}

}  // namespace json
}  // namespace ff
