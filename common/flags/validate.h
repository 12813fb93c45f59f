// Strict validation of flagd definitions against flagd-schemas flags.json + targeting.json,
// for `fleetflag validate` and the definitions upstream's diagnostics. Reports every violation
// found, each with a JSON Pointer path and a reason, instead of stopping at the first.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json/json.h"

namespace ff::flags {

struct Violation {
  std::string path;    // JSON Pointer, e.g. "/flags/my-flag/variants/on"
  std::string reason;  // e.g. "must be boolean (variants of this flag are boolean)"
};

// Validates an already-parsed document. An empty result means the document is valid.
// The root schema is flagd.json (`flags` as a map or an array of flags with `key`) unless
// `$schema` names flags.json, whose root accepts only the map. Besides the schemas it reports
// what flagd rejects on load or evaluation (defaultVariant naming no variant, an empty
// evaluator, a $ref naming no evaluator or closing a cycle, fractional weights above 2^31-1).
// Violations come in document order; after 10000 (or 32 MiB of text) reporting stops with a
// final notice at path "". Targeting nested deeper than 200 levels is reported, not walked.
std::vector<Violation> validate(const Json& document);

// Parses (under the default limits) and validates. Parse failures come back as one violation
// at path "" with the parser's message.
std::vector<Violation> validate_text(std::string_view text);

}  // namespace ff::flags
