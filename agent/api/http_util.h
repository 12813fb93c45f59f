// Small HTTP helpers for the API routes: target/query parsing, durations, timestamps, ETags.
// No Beast here, so everything is unit-testable and fuzzable on plain strings. None of these
// functions throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ff::api {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header named `name`.
std::optional<std::string> find_header(const HeaderList& headers, std::string_view name);

// Percent-decodes `in` (RFC 3986). With `plus_is_space` (query strings), '+' decodes to ' '.
// nullopt on a malformed escape ("%", "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

struct Target {
  std::string path;                                        // still percent-encoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

// Splits a request target into path and decoded query parameters. Accepts origin-form
// ("/a?b=c") and absolute-form ("http://host/a?b=c"; scheme and authority are dropped).
// nullopt when the target is neither or a query escape is malformed.
std::optional<Target> parse_target(std::string_view target);

// First value of query parameter `name`.
std::optional<std::string> query_param(const Target& t, std::string_view name);

// A blocking-query wait: "30s", "500ms", "2m", "1h", or a plain number of seconds ("30").
// Whole numbers only; nullopt on anything else or on overflow past a day.
std::optional<std::chrono::milliseconds> parse_wait(std::string_view text);

// A non-negative decimal integer that fits in 64 bits, digits only (no sign, no spaces).
std::optional<std::uint64_t> parse_index(std::string_view text);

// RFC 3339 UTC with milliseconds ("2025-11-29T07:06:40.123Z") for a Unix time in ms.
std::string rfc3339_utc(std::int64_t unix_ms);

// A strong entity tag for `body` (quoted, 32 hex digits): two independent 64-bit hashes, so
// different bodies get different tags for all practical purposes (not a security property).
std::string strong_etag(std::string_view body);

// If-None-Match evaluation (RFC 9110 §13.1.2): true when `header` is "*" or lists an entity tag
// that weakly matches `etag` (the W/ prefix is ignored on both sides).
bool if_none_match_matches(std::string_view header, std::string_view etag);

}  // namespace ff::api
