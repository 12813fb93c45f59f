// flagd flag-definition model (flagd-schemas flags.json) and its lenient loader.
//
// Loading is as lenient as flagd's own (core/pkg/evaluator/json.go): schema violations do not
// refuse a payload; a flag whose targeting cannot be expanded ($ref) carries the reason and
// later evaluates to PARSE_ERROR while every other flag keeps working. Only a structurally
// broken payload is refused whole: not an object, no `flags`, a flag that is not an object, a
// bad `state`, `variants` not a non-empty object, or a `defaultVariant` missing from `variants`.
// Strict schema validation (every violation, path-qualified) lives in validate.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json/json.h"

namespace ff::flags {

enum class State { kEnabled, kDisabled };

struct Flag {
  std::string key;
  State state = State::kEnabled;
  Json variants = Json::object();  // variant name -> value (boolean, string, number or object)
  std::optional<std::string> default_variant;  // absent or null: the caller's default
  // Targeting rule with every {"$ref": name} replaced by its evaluator. Null when the flag has
  // no targeting or `{}` (flagd treats both as "no targeting": reason STATIC).
  Json targeting;
  // Set when `targeting` could not be prepared (unknown or cyclic $ref, too deep). The flag
  // then resolves to ERROR/PARSE_ERROR with this message.
  std::string targeting_error;
  // Flag-set metadata merged with the flag's own; flag keys win (flagd store.patchMetadata).
  Json metadata = Json::object();
};

struct FlagSet {
  // Ordered by key so that bulk answers and hashes are deterministic.
  std::map<std::string, Flag, std::less<>> flags;
  Json metadata = Json::object();  // flag-set level metadata, as given
};

struct LoadOptions {
  json::Limits limits{};
  // Maximum size of one flag's targeting after $ref expansion, in JSON nodes. Protects against
  // evaluator fan-out ("billion laughs" through $ref).
  std::size_t max_targeting_nodes = 100000;
};

// Parses and loads a definitions document (JSON text). Accepts `flags` as a map or, like the
// flagd daemon's schema, as an array of flags carrying `key`.
Result<FlagSet> load(std::string_view text, const LoadOptions& options = {});
Result<FlagSet> load(const Json& document, const LoadOptions& options = {});
inline Result<FlagSet> load(const std::string& text, const LoadOptions& options = {}) {
  return load(std::string_view(text), options);
}
inline Result<FlagSet> load(const char* text, const LoadOptions& options = {}) {
  return load(std::string_view(text), options);
}

const char* to_string(State state);

}  // namespace ff::flags
