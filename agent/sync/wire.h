// Parsers for upstream answers, kept free of I/O so that they can be unit-tested and fuzzed.
// Every function takes untrusted bytes and never throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/json/json.h"

namespace ff::sync {

// OFREP bulk success body {"flags":[...],"metadata"?,"eventStreams"?} -> key -> canonical
// answer (see Fetched in upstream.h):
//   success {key, reason, value?, variant?, metadata?} -> {value?, variant?, reason, metadata}
//   failure {key, errorCode, errorDetails?, metadata?}  -> {reason:"ERROR", errorCode,
//                                                          errorDetails?, metadata}
// Strict: the body must be an object with a `flags` array; every item an object with a
// non-empty string `key` seen once; `reason`/`variant`/`errorCode`/`errorDetails` strings where
// present; `value` not null; `metadata` an object of booleans, strings and numbers. Anything
// else fails the whole body (error code "bad_response", path = JSON Pointer of the culprit).
Result<Json> parse_ofrep_bulk(std::string_view body, std::size_t max_bytes);

// flagd.evaluation.v1 ResolveAll body {"flags":{key:AnyFlag},"metadata"?} -> key -> canonical
// answer. AnyFlag: `reason` string (required), `variant` string, at most one of boolValue /
// stringValue / doubleValue / objectValue with the right JSON type, `metadata` object or null.
// Mapping choices:
//   - doubleValue that is integral and within +-2^53 becomes a JSON integer (`10`, not `10.0`),
//     like OFREP and the local engine answer;
//   - reason "ERROR" (flagd's zero-value error entries) -> {reason:"ERROR",
//     errorCode:"GENERAL", errorDetails, metadata}: the zero value is not a result;
//   - reason "DISABLED" drops value and variant (use the code default, as OFREP does);
//   - an empty `variant` (protobuf default) is omitted.
// Strict in the same way as parse_ofrep_bulk ("bad_response"). A missing `flags` member is an
// error: flagd always emits it (EmitUnpopulated), and `{}` is what a wrong endpoint says.
Result<Json> parse_flagd_resolve_all(std::string_view body, std::size_t max_bytes);

// Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime)
// relative to `now`. Dates in the past give 0 s. Capped at 86400 s. nullopt when unparsable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// A short human message from an error body: OFREP {"errorCode","errorDetails"}, Connect
// {"code","message"}, {"error": string | {"code","message"}}, else the body text itself when
// it is short printable text. Control characters are replaced, the result is at most 300 bytes.
// "" when nothing usable.
std::string error_body_message(std::string_view body);

// ETag computed by the agent from content bytes ("ff-sha256:<hex>"), used when the upstream
// sends none (flagd Connect, plain files, HTTP servers without ETag). Such tags are compared
// locally and never sent as If-None-Match.
std::string content_etag(std::string_view bytes);
bool is_content_etag(std::string_view etag);

}  // namespace ff::sync
