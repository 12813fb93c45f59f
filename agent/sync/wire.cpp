#include "agent/sync/wire.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace ff::sync {

namespace {

constexpr std::size_t kMaxMessage = 300;
constexpr std::int64_t kMaxRetryAfter = 86400;
constexpr std::string_view kEtagPrefix = "ff-sha256:";

Error bad(std::string message, std::string path) {
  return Error{"bad_response", std::move(message), std::move(path)};
}

std::string item_path(std::string_view base, const std::string& token) {
  return std::string(base) + "/" + json::pointer_token(token);
}

Result<Json> parse_body(std::string_view body, std::size_t max_bytes) {
  json::Limits limits;
  limits.max_bytes = max_bytes;
  auto doc = json::parse(body, limits);
  if (!doc) {
    Error e = doc.error();
    if (e.code == "invalid_json") e.code = "bad_response";
    return e;
  }
  if (!doc->is_object()) return bad("response is not a JSON object", "");
  return doc;
}

// metadata: object of scalars (OFREP schema "metadata"; flagd only stores scalars). Null and
// absent mean {}.
Result<Json> check_metadata(const Json* m, const std::string& path) {
  if (m == nullptr || m->is_null()) return Json::object();
  if (!m->is_object()) return bad("metadata is not an object", path);
  for (auto it = m->begin(); it != m->end(); ++it) {
    const Json& v = it.value();
    if (!v.is_boolean() && !v.is_string() && !v.is_number()) {
      return bad("metadata values must be booleans, strings or numbers", item_path(path, it.key()));
    }
  }
  return *m;
}

const Json* member(const Json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

// Reads an optional string member; false (and sets `error`) when present but not a string.
bool optional_string(const Json& obj, const char* name, const std::string& path,
                     std::optional<std::string>& out, std::optional<Error>& error) {
  const Json* v = member(obj, name);
  if (v == nullptr) return true;
  if (!v->is_string()) {
    error = bad(std::string(name) + " is not a string", item_path(path, name));
    return false;
  }
  out = v->get<std::string>();
  return true;
}

std::string sanitize(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (out.size() >= kMaxMessage) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

}  // namespace

Result<Json> parse_ofrep_bulk(std::string_view body, std::size_t max_bytes) {
  auto doc = parse_body(body, max_bytes);
  if (!doc) return doc.error();
  const Json* flags = member(*doc, "flags");
  if (flags == nullptr) return bad("no flags member", "");
  if (!flags->is_array()) return bad("flags is not an array", "/flags");
  if (const Json* m = member(*doc, "metadata")) {
    auto checked = check_metadata(m, "/metadata");
    if (!checked) return checked.error();
  }
  Json out = Json::object();
  for (std::size_t i = 0; i < flags->size(); ++i) {
    const Json& item = (*flags)[i];
    const std::string path = "/flags/" + std::to_string(i);
    if (!item.is_object()) return bad("flag entry is not an object", path);
    const Json* key = member(item, "key");
    if (key == nullptr || !key->is_string() || key->get_ref<const std::string&>().empty()) {
      return bad("flag entry has no string key", path + "/key");
    }
    const std::string& k = key->get_ref<const std::string&>();
    if (out.contains(k)) return bad("duplicate flag key " + k, path + "/key");
    std::optional<Error> error;
    std::optional<std::string> reason, variant, error_code, error_details;
    if (!optional_string(item, "reason", path, reason, error) ||
        !optional_string(item, "variant", path, variant, error) ||
        !optional_string(item, "errorCode", path, error_code, error) ||
        !optional_string(item, "errorDetails", path, error_details, error)) {
      return *error;
    }
    auto metadata = check_metadata(member(item, "metadata"), path + "/metadata");
    if (!metadata) return metadata.error();
    Json answer = Json::object();
    if (error_code) {
      if (error_code->empty()) return bad("empty errorCode", path + "/errorCode");
      answer["reason"] = "ERROR";
      answer["errorCode"] = *error_code;
      if (error_details) answer["errorDetails"] = *error_details;
    } else {
      if (!reason) return bad("success entry has no reason", path + "/reason");
      const Json* value = member(item, "value");
      if (value != nullptr) {
        if (value->is_null()) return bad("value is null", path + "/value");
        answer["value"] = *value;
      }
      if (variant) answer["variant"] = *variant;
      answer["reason"] = *reason;
    }
    answer["metadata"] = std::move(*metadata);
    out[k] = std::move(answer);
  }
  return out;
}

Result<Json> parse_flagd_resolve_all(std::string_view body, std::size_t max_bytes) {
  auto doc = parse_body(body, max_bytes);
  if (!doc) return doc.error();
  const Json* flags = member(*doc, "flags");
  if (flags == nullptr) return bad("no flags member", "");
  if (!flags->is_object()) return bad("flags is not an object", "/flags");
  if (const Json* m = member(*doc, "metadata")) {
    auto checked = check_metadata(m, "/metadata");
    if (!checked) return checked.error();
  }
  Json out = Json::object();
  for (auto it = flags->begin(); it != flags->end(); ++it) {
    const std::string& k = it.key();
    const Json& item = it.value();
    const std::string path = item_path("/flags", k);
    if (k.empty()) return bad("empty flag key", path);
    if (!item.is_object()) return bad("flag entry is not an object", path);
    std::optional<Error> error;
    std::optional<std::string> reason, variant;
    if (!optional_string(item, "reason", path, reason, error) ||
        !optional_string(item, "variant", path, variant, error)) {
      return *error;
    }
    if (!reason) return bad("flag entry has no reason", path + "/reason");
    auto metadata = check_metadata(member(item, "metadata"), path + "/metadata");
    if (!metadata) return metadata.error();

    std::optional<Json> value;
    int values = 0;
    if (const Json* v = member(item, "boolValue")) {
      if (!v->is_boolean()) return bad("boolValue is not a boolean", path + "/boolValue");
      value = *v;
      ++values;
    }
    if (const Json* v = member(item, "stringValue")) {
      if (!v->is_string()) return bad("stringValue is not a string", path + "/stringValue");
      value = *v;
      ++values;
    }
    if (const Json* v = member(item, "doubleValue")) {
      // protojson writes NaN/Infinity as strings; a flag value cannot be either.
      if (!v->is_number()) return bad("doubleValue is not a finite number", path + "/doubleValue");
      const double d = v->get<double>();
      constexpr double kMaxExact = 9007199254740992.0;  // 2^53
      if (v->is_number_float() && std::trunc(d) == d && std::fabs(d) <= kMaxExact) {
        value = Json(static_cast<std::int64_t>(d));
      } else {
        value = *v;
      }
      ++values;
    }
    if (const Json* v = member(item, "objectValue")) {
      if (!v->is_object()) return bad("objectValue is not an object", path + "/objectValue");
      value = *v;
      ++values;
    }
    if (values > 1) return bad("more than one value field", path);

    Json answer = Json::object();
    if (*reason == "ERROR") {
      answer["reason"] = "ERROR";
      answer["errorCode"] = "GENERAL";
      answer["errorDetails"] = "flagd reported an evaluation error for this flag";
    } else if (*reason == "DISABLED") {
      answer["reason"] = "DISABLED";
    } else {
      if (value) answer["value"] = std::move(*value);
      if (variant && !variant->empty()) answer["variant"] = *variant;
      answer["reason"] = *reason;
    }
    answer["metadata"] = std::move(*metadata);
    out[k] = std::move(answer);
  }
  return out;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t s = 0;
    for (char c : value) {
      s = s * 10 + (c - '0');
      if (s > kMaxRetryAfter) return std::chrono::seconds(kMaxRetryAfter);
    }
    return std::chrono::seconds(s);
  }
  if (value.size() > 64) return std::nullopt;
  const std::string text(value);
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    const std::time_t when = ::timegm(&tm);
    if (when == static_cast<std::time_t>(-1)) return std::nullopt;
    const auto delta = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::from_time_t(when) - now);
    if (delta.count() <= 0) return std::chrono::seconds(0);
    return std::chrono::seconds(std::min<std::int64_t>(delta.count(), kMaxRetryAfter));
  }
  return std::nullopt;
}

std::string error_body_message(std::string_view body) {
  if (body.empty()) return "";
  json::Limits limits;
  limits.max_bytes = 64u << 10;
  limits.max_depth = 8;
  auto doc = json::parse(body, limits);
  if (doc && doc->is_object()) {
    auto str = [&](const Json& obj, const char* name) -> std::string {
      const Json* v = member(obj, name);
      return v != nullptr && v->is_string() ? v->get<std::string>() : "";
    };
    auto join = [](const std::string& code, const std::string& text) {
      if (code.empty()) return text;
      if (text.empty()) return code;
      return code + ": " + text;
    };
    std::string msg = join(str(*doc, "errorCode"), str(*doc, "errorDetails"));
    if (msg.empty()) msg = join(str(*doc, "code"), str(*doc, "message"));
    if (msg.empty()) {
      if (const Json* e = member(*doc, "error")) {
        if (e->is_string()) {
          msg = e->get<std::string>();
        } else if (e->is_object()) {
          msg = join(str(*e, "code"), str(*e, "message"));
        }
      }
    }
    return sanitize(msg);
  }
  if (doc) return "";
  // Not JSON: only short printable text is worth repeating (not an HTML page or binary).
  if (body.size() > kMaxMessage) return "";
  for (char c : body) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\r' && c != '\t') || u >= 0x7f) return "";
  }
  return sanitize(body);
}

std::string content_etag(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kEtagPrefix);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool is_content_etag(std::string_view etag) {
  return etag.substr(0, kEtagPrefix.size()) == kEtagPrefix;
}

}  // namespace ff::sync
