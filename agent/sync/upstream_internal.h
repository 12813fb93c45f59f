// Shared pieces of the upstream implementations (not part of the sync API).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/sync/upstream.h"
#include "common/http/client.h"

namespace ff::sync::detail {

// Headers every upstream request carries, after the mode's own ones: the configured extra
// headers, Flagd-Selector, and "Authorization: Bearer <token>" with the token file read now
// (so rotated tokens are picked up). An unreadable, empty or malformed token file is an error
// whose message names the path and never the token.
Result<http::Headers> common_headers(const UpstreamConfig& config);

// Reads and trims a bearer token file (at most 16 KiB, printable ASCII without spaces).
Result<std::string> read_bearer_token(const std::string& path);

// Case-insensitive scheme checks.
bool starts_with_icase(std::string_view s, std::string_view prefix);
bool is_http_url(std::string_view url);

// A request with the config's timeout and body limit.
http::Request make_request(const UpstreamConfig& config, std::string method, std::string url);

// Error for a transport failure (no HTTP answer).
FetchError transport_error(std::string_view who, const Error& e);
// Error for an unexpected HTTP status: message from the body when it has one, `auth` for
// 401/403, `retry_after` for 429/503.
FetchError status_error(std::string_view who, const std::string& url, const http::Response& r);
FetchOutcome failed(FetchError e);

// URL for logs and status: scheme://host[:port]/path without userinfo, query or fragment.
std::string redact_url(std::string_view url);
// base (without trailing slashes) + path.
std::string join_url(std::string_view base, std::string_view path);
// Compact JSON that never throws (invalid UTF-8 in strings is replaced).
std::string dump(const Json& value);

std::unique_ptr<Upstream> make_ofrep(const UpstreamConfig& config);
std::unique_ptr<Upstream> make_flagd(const UpstreamConfig& config);
Result<std::unique_ptr<Upstream>> make_definitions(const UpstreamConfig& config);

}  // namespace ff::sync::detail
