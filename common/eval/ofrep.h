// OFREP wire shapes (shared/reference/ofrep/openapi.yaml) for resolutions.
#pragma once

#include <vector>

#include "common/eval/resolver.h"

namespace ff::eval {

// Single-flag body: success {"key","reason","variant","value","metadata"} (value/variant
// omitted for code-default results, ADR-0006) or failure {"key","errorCode","errorDetails",
// "metadata"}.
Json to_ofrep(const Resolution& r);

// Bulk body {"flags":[...], "metadata":{...}}.
Json to_ofrep_bulk(const std::vector<Resolution>& rs, const Json& set_metadata);

// HTTP status an OFREP server answers a single-flag evaluation with (flagd's mapping):
// 200 success, 404 FLAG_NOT_FOUND, 400 PARSE_ERROR / GENERAL / TYPE_MISMATCH.
int ofrep_status(const Resolution& r);

}  // namespace ff::eval
