// JSON helpers shared by every component.
//
// Error policy (written down once, see docs/architecture.md): untrusted bytes are parsed
// without exceptions escaping, under a size and a nesting-depth limit. Functions at component
// boundaries return ff::Result<T>; exceptions are reserved for fatal start-up configuration.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace ff {

using Json = nlohmann::json;

// A failure that crosses a component boundary. `code` is a stable machine-readable token
// (e.g. "too_deep", "PARSE_ERROR"), `path` a JSON Pointer into the offending document when
// one applies, `message` is for humans.
struct Error {
  std::string code;
  std::string message;
  std::string path;

  std::string to_string() const;
};

// Minimal result type (std::expected is C++23). Holds either a value or an Error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

namespace json {

struct Limits {
  std::size_t max_bytes = 16u << 20;  // whole document
  std::size_t max_depth = 64;         // nesting of arrays/objects
};

// Returns the maximum nesting depth of arrays/objects in `text`, stopping early (and returning
// a value > limit) once `limit` is exceeded. Strings are skipped correctly, so brackets inside
// strings do not count. Runs in O(n) with no allocation.
std::size_t nesting_depth(std::string_view text, std::size_t limit);

// Parses untrusted bytes. Never throws. Errors: "too_large", "too_deep", "invalid_json".
Result<Json> parse(std::string_view text, const Limits& limits = {});

// Depth of an already-parsed value (1 for a scalar inside nothing counts as 0).
std::size_t depth(const Json& value, std::size_t limit);

// Escapes one reference token for a JSON Pointer ("~" -> "~0", "/" -> "~1").
std::string pointer_token(std::string_view token);

// JavaScript's Number.prototype.toString for a finite double: integers print without a
// fraction ("1", "-0" prints "0"), others in the shortest round-trip form. flagd turns numeric
// targeting results into variant names this way, and OFREP clients compare them as strings.
std::string js_number_string(double value);

// The name a targeting result selects, as flagd derives it: strings as-is, booleans
// "true"/"false", numbers via js_number_string, anything else its compact JSON.
std::string variant_name(const Json& value);

}  // namespace json
}  // namespace ff
