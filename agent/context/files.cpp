// context.d attribute files (JSON or YAML) and the YAML -> JSON conversion.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include "agent/context/internal.h"

namespace ff::context::detail {
namespace {

constexpr std::size_t kMaxFileDepth = 32;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_core_null(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Integer per the YAML 1.2 core schema: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+, within int64.
bool parse_core_int(const std::string& s, std::int64_t& out) {
  std::size_t i = 0;
  int base = 10;
  if (s.rfind("0x", 0) == 0) {
    base = 16;
    i = 2;
  } else if (s.rfind("0o", 0) == 0) {
    base = 8;
    i = 2;
  } else if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    i = 1;
  }
  if (i >= s.size()) return false;
  for (std::size_t j = i; j < s.size(); ++j) {
    char c = s[j];
    bool ok = base == 16  ? std::isxdigit(static_cast<unsigned char>(c)) != 0
              : base == 8 ? (c >= '0' && c <= '7')
                          : (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str() + (base == 10 ? 0 : 2), &end, base);
  if (errno == ERANGE || *end != '\0') return false;
  out = v;
  return true;
}

// Float per the core schema, finite only: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool parse_core_float(const std::string& s, double& out) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != s.size()) return false;
  errno = 0;
  double v = std::strtod(s.c_str(), nullptr);
  if (errno == ERANGE) return false;
  out = v;
  return true;
}

Json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  // "!" marks a quoted (non-plain) scalar; an explicit !!str (or any other tag) keeps the text.
  if (tag != "?") return text;
  if (is_core_null(text)) return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  std::int64_t i = 0;
  if (parse_core_int(text, i)) return i;
  double d = 0;
  if (parse_core_float(text, d)) return d;
  return text;
}

Result<Json> node_to_json(const YAML::Node& node, std::size_t depth, std::size_t max_depth) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Json(nullptr);
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      if (depth + 1 > max_depth) return Error{"too_deep", "nesting deeper than the limit", ""};
      Json out = Json::array();
      for (const auto& item : node) {
        auto v = node_to_json(item, depth + 1, max_depth);
        if (!v.ok()) return v;
        out.push_back(std::move(*v));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      if (depth + 1 > max_depth) return Error{"too_deep", "nesting deeper than the limit", ""};
      Json out = Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Error{"invalid_yaml", "mapping keys must be scalars", ""};
        }
        auto v = node_to_json(kv.second, depth + 1, max_depth);
        if (!v.ok()) return v;
        out[kv.first.Scalar()] = std::move(*v);
      }
      return out;
    }
  }
  return Json(nullptr);
}

}  // namespace

Result<Json> yaml_to_json(const std::string& text, std::size_t max_depth) {
  try {
    YAML::Node root = YAML::Load(text);
    return node_to_json(root, 0, max_depth);
  } catch (const std::exception& e) {  // YAML::Exception, and bad_alloc on hostile input
    return Error{"invalid_yaml", e.what(), ""};
  }
}

void load_context_dir(const std::string& dir, std::vector<Layer>& layers,
                      std::vector<Problem>& problems) {
  std::error_code ec;
  std::vector<std::string> names;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    if (ec != std::errc::no_such_file_or_directory) {
      problems.push_back({"context.d", dir + ": " + ec.message()});
    }
    return;
  }
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!ends_with(name, ".json") && !ends_with(name, ".yaml") && !ends_with(name, ".yml")) {
      continue;
    }
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;  // follows symlinks
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string source = "context.d/" + name;
    std::string path = dir;
    path += '/';
    path += name;
    auto text = read_file(path, kMaxAttributeFileBytes);
    if (!text.ok()) {
      problems.push_back({source, text.error().message});
      continue;
    }
    if (text->size() > kMaxAttributeFileBytes) {
      problems.push_back(
          {source, "larger than " + std::to_string(kMaxAttributeFileBytes) + " bytes"});
      continue;
    }
    Result<Json> parsed = Error{};
    if (ends_with(name, ".json")) {
      json::Limits limits;
      limits.max_bytes = kMaxAttributeFileBytes;
      limits.max_depth = kMaxFileDepth;
      parsed = json::parse(*text, limits);
    } else {
      // yaml-cpp recurses per nesting level while parsing: refuse absurd bracket nesting before
      // handing it the text (flow style is the only way to nest deeply in few bytes).
      if (json::nesting_depth(*text, kMaxFileDepth * 4) > kMaxFileDepth * 4) {
        parsed = Error{"too_deep", "nesting deeper than the limit", ""};
      } else {
        parsed = yaml_to_json(*text, kMaxFileDepth);
      }
      if (parsed.ok() && parsed->is_null()) parsed = Json::object();  // empty YAML document
    }
    if (!parsed.ok()) {
      problems.push_back({source, parsed.error().code + ": " + parsed.error().message});
      continue;
    }
    if (!parsed->is_object()) {
      problems.push_back({source, "must hold one object (key: value pairs)"});
      continue;
    }
    layers.push_back({source, std::move(*parsed)});
  }
}

}  // namespace ff::context::detail
