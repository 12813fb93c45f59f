// make_upstream and the helpers shared by the three upstreams.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "agent/sync/upstream.h"
#include "agent/sync/upstream_internal.h"
#include "agent/sync/wire.h"

namespace ff::sync {

const char* to_string(Mode m) {
  switch (m) {
    case Mode::kOfrep:
      return "ofrep";
    case Mode::kFlagd:
      return "flagd";
    case Mode::kDefinitions:
      return "definitions";
  }
  return "unknown";
}

namespace detail {

namespace {

constexpr std::size_t kMaxTokenBytes = 16u << 10;

bool is_token(std::string_view name) {
  static constexpr std::string_view kExtras = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtras.find(c) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// http(s)://authority[...]: scheme, a non-empty authority without userinfo, no whitespace.
std::optional<std::string> check_http_url(std::string_view url, bool allow_query) {
  if (!starts_with_icase(url, "http://") && !starts_with_icase(url, "https://")) {
    return "URL must start with http:// or https://";
  }
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return "URL contains a space or control character";
  }
  const std::string_view rest = url.substr(url.find("://") + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return "URL has no host";
  if (authority.find('@') != std::string_view::npos) {
    return "credentials in URLs are not supported (use bearer_token_file or headers)";
  }
  if (!allow_query && rest.find_first_of("?#") != std::string_view::npos) {
    return "a base URL cannot have a query or fragment";
  }
  return std::nullopt;
}

bool is_yaml_path(std::string_view path) {
  path = path.substr(0, path.find_first_of("?#"));
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() &&
           starts_with_icase(path.substr(path.size() - ext.size()), ext);
  };
  return ends(".yaml") || ends(".yml");
}

}  // namespace

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

bool is_http_url(std::string_view url) {
  return starts_with_icase(url, "http://") || starts_with_icase(url, "https://");
}

Result<std::string> read_bearer_token(const std::string& path) {
  auto err = [&](const std::string& why) {
    return Error{"token", "bearer token file " + path + ": " + why, {}};
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return err(std::strerror(errno));
  struct stat st {};
  std::string text;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() <= kMaxTokenBytes) {
      text.append(buf, static_cast<std::size_t>(n));
    }
    ok = n >= 0 || text.size() > kMaxTokenBytes;
  }
  ::close(fd);
  if (!ok) return err("not a readable regular file");
  if (text.size() > kMaxTokenBytes) return err("larger than 16 KiB");
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return err("empty");
  const auto last = text.find_last_not_of(" \t\r\n");
  text = text.substr(first, last - first + 1);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return err("the token contains spaces or non-ASCII characters");
  }
  return text;
}

Result<http::Headers> common_headers(const UpstreamConfig& config) {
  http::Headers out = config.headers;
  if (!config.selector.empty()) out.emplace_back("Flagd-Selector", config.selector);
  if (!config.bearer_token_file.empty()) {
    auto token = read_bearer_token(config.bearer_token_file);
    if (!token) return token.error();
    out.emplace_back("Authorization", "Bearer " + *token);
  }
  return out;
}

http::Request make_request(const UpstreamConfig& config, std::string method, std::string url) {
  http::Request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.timeout = config.timeout;
  r.max_body = config.max_body;
  return r;
}

FetchError transport_error(std::string_view who, const Error& e) {
  FetchError f;
  f.message = std::string(who) + ": " + e.code + ": " + e.message;
  return f;
}

FetchError status_error(std::string_view who, const std::string& url, const http::Response& r) {
  FetchError f;
  f.http_status = r.status;
  f.auth = r.status == 401 || r.status == 403;
  if (r.status == 429 || r.status == 503) {
    if (auto h = r.header("Retry-After")) {
      f.retry_after = parse_retry_after(*h, std::chrono::system_clock::now());
    }
  }
  f.message = std::string(who) + ": HTTP " + std::to_string(r.status) + " from " + redact_url(url);
  const std::string detail = error_body_message(r.body);
  if (!detail.empty()) f.message += ": " + detail;
  return f;
}

FetchOutcome failed(FetchError e) {
  FetchOutcome out;
  out.ok = false;
  out.error = std::move(e);
  return out;
}

std::string redact_url(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::string(url.substr(0, url.find_first_of("?#")));
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  return std::string(url.substr(0, sep + 3)) + std::string(authority) + std::string(path);
}

std::string join_url(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + std::string(path);
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace detail

Result<std::unique_ptr<Upstream>> make_upstream(const UpstreamConfig& config) {
  auto config_error = [](std::string message) { return Error{"config", std::move(message), {}}; };
  if (config.url.empty()) return config_error("upstream url is empty");
  if (config.timeout.count() <= 0) return config_error("upstream timeout must be positive");
  if (config.max_body == 0) return config_error("upstream max_body must be positive");
  for (const auto& [name, value] : config.headers) {
    if (!detail::is_token(name)) return config_error("invalid header name '" + name + "'");
    if (!detail::is_header_value(value)) {
      return config_error("header " + name + " has a control character in its value");
    }
  }
  if (!detail::is_header_value(config.selector)) {
    return config_error("selector has a control character");
  }
  switch (config.mode) {
    case Mode::kOfrep:
    case Mode::kFlagd: {
      if (auto e = detail::check_http_url(config.url, false)) {
        return config_error(std::string(to_string(config.mode)) + " url " +
                            detail::redact_url(config.url) + ": " + *e);
      }
      if (config.mode == Mode::kOfrep) return detail::make_ofrep(config);
      return detail::make_flagd(config);
    }
    case Mode::kDefinitions: {
      const std::string_view url = config.url;
      if (detail::is_http_url(url)) {
        if (auto e = detail::check_http_url(url, true)) {
          return config_error("definitions url " + detail::redact_url(url) + ": " + *e);
        }
      } else if (url.find("://") != std::string_view::npos &&
                 !detail::starts_with_icase(url, "file://")) {
        return config_error("definitions url " + detail::redact_url(url) +
                            ": unsupported scheme (file path, file://, http:// or https://)");
      }
      if (detail::is_yaml_path(url)) {
        return config_error("definitions " + detail::redact_url(url) +
                            ": YAML definitions are not supported yet (use JSON)");
      }
      return detail::make_definitions(config);
    }
  }
  return config_error("unknown mode");
}

}  // namespace ff::sync
