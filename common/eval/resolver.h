// flagd flag resolution over an immutable, compiled flag set.
//
// Reasons and error codes follow flagd (core/pkg/evaluator/json.go, see
// shared/reference/flagd-notes.md §1):
//   key not found                      -> ERROR / FLAG_NOT_FOUND
//   state DISABLED                     -> DISABLED, no value (caller's default)
//   no targeting (absent or {})        -> STATIC, defaultVariant (DEFAULT without value if none)
//   targeting could not be compiled    -> ERROR / PARSE_ERROR
//   targeting failed at run time       -> ERROR / PARSE_ERROR
//   targeting result null              -> DEFAULT, defaultVariant (or no value)
//   result names a variant             -> TARGETING_MATCH
//   result names no variant            -> ERROR / GENERAL
//   value type differs from requested  -> ERROR / TYPE_MISMATCH
// A Resolution points into the Engine that produced it and is valid while that Engine lives.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/eval/logic.h"
#include "common/flags/model.h"

namespace ff::eval {

enum class Reason { kStatic, kTargetingMatch, kDefault, kDisabled, kError };
enum class ErrorCode { kNone, kFlagNotFound, kParseError, kTypeMismatch, kGeneral };
enum class ValueType { kBoolean, kString, kNumber, kObject };

const char* to_string(Reason reason);
const char* to_string(ErrorCode code);

struct Resolution {
  std::string_view key;
  const Json* value = nullptr;           // nullptr: no value (use the caller's default)
  const std::string* variant = nullptr;  // nullptr together with value
  Reason reason = Reason::kError;
  ErrorCode error = ErrorCode::kNone;
  std::string error_details;
  const Json* metadata = nullptr;  // merged flag metadata (set metadata when not found)
};

class Engine {
 public:
  // Compiles every flag's targeting. Never fails: a flag whose targeting cannot be compiled
  // resolves to PARSE_ERROR, the rest keep working. `compile_errors()` lists them.
  explicit Engine(flags::FlagSet set, EvalLimits limits = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Resolves one flag. `now` is $flagd.timestamp in Unix seconds. `expected` enables the
  // TYPE_MISMATCH check (OFREP does not type-check; typed SDK calls do).
  Resolution resolve(std::string_view key, const Json& context, std::int64_t now,
                     std::optional<ValueType> expected = std::nullopt) const;

  // Resolves every flag (DISABLED ones included, with reason DISABLED), in key order.
  void resolve_all(const Json& context, std::int64_t now, std::vector<Resolution>& out) const;

  // The definitions as loaded, except that each successfully compiled flag's `targeting` is
  // released (null): only the compiled rule is kept.
  const flags::FlagSet& flag_set() const;
  std::size_t size() const;
  // "flag-key: message" for every flag whose targeting failed to compile.
  std::vector<std::string> compile_errors() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ff::eval
