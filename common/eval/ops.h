// flagd's custom JSON Logic operators, exposed for direct testing and benchmarking.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/json/json.h"

namespace ff::eval {

// MurmurHash3 x86 32-bit (Austin Appleby), over the given bytes.
std::uint32_t murmur3_x86_32(std::string_view data, std::uint32_t seed = 0);
// The same hash over the concatenation `first + second`, without building it (fractional's
// flagKey + targetingKey).
std::uint32_t murmur3_x86_32_concat(std::string_view first, std::string_view second,
                                    std::uint32_t seed = 0);

// flagd fractional v2 bucket: (uint64(hash) * total_weight) >> 32.
std::uint64_t fractional_bucket(std::uint32_t hash, std::uint64_t total_weight);

// A version as flagd's sem_ver operator understands it (golang.org/x/mod/semver after flagd's
// normalisation): optional v/V prefix, partial "1" / "1.2" filled with zeros, pre-release
// identifiers, build metadata ignored.
struct SemVer {
  // Decimal digits without leading zeros, of any length: golang.org/x/mod/semver compares
  // numeric fields as strings (by length, then lexically), so flagd accepts > 64-bit parts.
  std::string major = "0", minor = "0", patch = "0";
  std::string prerelease;  // without the leading '-'; empty when none
};
std::optional<SemVer> parse_semver(std::string_view text);
// <0, 0, >0 as semver precedence orders a and b.
int compare_semver(const SemVer& a, const SemVer& b);

// The same version as views into the parsed text (which must outlive it): parsing allocates
// nothing. Missing minor/patch fields view a static "0".
struct SemVerView {
  std::string_view major, minor, patch;
  std::string_view prerelease;  // without the leading '-'; empty when none
};
bool parse_semver(std::string_view text, SemVerView& out);
int compare_semver(const SemVerView& a, const SemVerView& b);

// sem_ver's comparison operators ("=", "!=", "<", "<=", ">", ">=", "^", "~").
enum class SemVerOp : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kCaret, kTilde };
std::optional<SemVerOp> parse_semver_op(std::string_view op);
bool apply_semver_op(const SemVerView& a, SemVerOp op, const SemVerView& b);

// sem_ver operator on already-evaluated arguments: [version, op, version]. nullopt = null.
std::optional<bool> sem_ver(const Json& args);
// The same on the three operands given separately.
std::optional<bool> sem_ver(const Json& version, const Json& op, const Json& other);
// starts_with / ends_with on evaluated arguments. nullopt = null.
std::optional<bool> starts_with(const Json& args);
std::optional<bool> ends_with(const Json& args);

}  // namespace ff::eval
