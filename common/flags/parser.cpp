#include <set>

#include "common/flags/model.h"

namespace ff::flags {
namespace {

std::string flag_path(std::string_view key) {
  return "/flags/" + json::pointer_token(key);
}

struct RefExpander {
  const Json* evaluators;  // object or nullptr
  std::size_t budget;      // JSON nodes left to emit
  std::vector<std::string> stack;

  // Returns the expanded copy of `node`, or an Error naming the first problem. flagd replaces
  // refs textually and without nesting; fleetflag expands structurally and also resolves refs
  // inside evaluators, rejecting cycles instead of leaving them half-expanded.
  Result<Json> expand(const Json& node, std::size_t depth) {
    if (budget == 0) return Error{"too_large", "targeting expands to too many nodes", ""};
    --budget;
    if (depth > 256) return Error{"too_deep", "targeting nests too deeply after $ref", ""};
    if (node.is_object()) {
      if (node.size() == 1 && node.begin().key() == "$ref") {
        const Json& name = node.begin().value();
        if (!name.is_string()) return Error{"bad_ref", "$ref must name an evaluator", ""};
        const auto& n = name.get_ref<const std::string&>();
        if (evaluators == nullptr || !evaluators->contains(n)) {
          return Error{"unknown_ref", "$ref to unknown evaluator '" + n + "'", ""};
        }
        for (const auto& s : stack) {
          if (s == n) return Error{"cyclic_ref", "$ref cycle through evaluator '" + n + "'", ""};
        }
        stack.push_back(n);
        auto out = expand((*evaluators)[n], depth + 1);
        stack.pop_back();
        return out;
      }
      Json out = Json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        auto child = expand(it.value(), depth + 1);
        if (!child) return child;
        out[it.key()] = std::move(*child);
      }
      return out;
    }
    if (node.is_array()) {
      Json out = Json::array();
      for (const auto& v : node) {
        auto child = expand(v, depth + 1);
        if (!child) return child;
        out.push_back(std::move(*child));
      }
      return out;
    }
    return node;
  }
};

bool has_ref(const Json& node) {
  if (node.is_object()) {
    if (node.size() == 1 && node.begin().key() == "$ref") return true;
    for (const auto& v : node) {
      if (has_ref(v)) return true;
    }
  } else if (node.is_array()) {
    for (const auto& v : node) {
      if (has_ref(v)) return true;
    }
  }
  return false;
}

Result<Flag> load_flag(std::string key, const Json& f, const Json& set_metadata,
                       const Json* evaluators, const LoadOptions& options) {
  const std::string path = flag_path(key);
  if (!f.is_object()) return Error{"invalid_flag", "flag must be an object", path};
  Flag flag;
  flag.key = std::move(key);

  const auto state = f.find("state");
  if (state == f.end() || !state->is_string()) {
    return Error{"invalid_flag", "state must be ENABLED or DISABLED", path + "/state"};
  }
  if (*state == "ENABLED") {
    flag.state = State::kEnabled;
  } else if (*state == "DISABLED") {
    flag.state = State::kDisabled;
  } else {
    return Error{"invalid_flag", "state must be ENABLED or DISABLED", path + "/state"};
  }

  const auto variants = f.find("variants");
  if (variants == f.end() || !variants->is_object() || variants->empty()) {
    return Error{"invalid_flag", "variants must be a non-empty object", path + "/variants"};
  }
  flag.variants = *variants;

  const auto dv = f.find("defaultVariant");
  if (dv != f.end() && !dv->is_null()) {
    if (!dv->is_string()) {
      return Error{"invalid_flag", "defaultVariant must be a string or null",
                   path + "/defaultVariant"};
    }
    const auto& name = dv->get_ref<const std::string&>();
    // flagd-core treats "" like an absent default (`flag.defaultVariant || undefined`) and
    // flagd's sync payloads use "" for "none".
    if (!name.empty()) {
      if (!variants->contains(name)) {
        return Error{"invalid_flag", "defaultVariant '" + name + "' is not one of the variants",
                     path + "/defaultVariant"};
      }
      flag.default_variant = name;
    }
  }

  const auto targeting = f.find("targeting");
  if (targeting != f.end() && !targeting->is_null() &&
      !(targeting->is_object() && targeting->empty())) {
    if (has_ref(*targeting)) {
      RefExpander ex{evaluators, options.max_targeting_nodes, {}};
      auto expanded = ex.expand(*targeting, 0);
      if (expanded) {
        flag.targeting = std::move(*expanded);
      } else {
        flag.targeting_error = expanded.error().message;
      }
    } else {
      flag.targeting = *targeting;
    }
  }

  flag.metadata = set_metadata.is_object() ? set_metadata : Json::object();
  const auto md = f.find("metadata");
  if (md != f.end() && md->is_object()) {
    for (auto it = md->begin(); it != md->end(); ++it) flag.metadata[it.key()] = it.value();
  }
  return flag;
}

}  // namespace

const char* to_string(State state) {
  return state == State::kEnabled ? "ENABLED" : "DISABLED";
}

Result<FlagSet> load(std::string_view text, const LoadOptions& options) {
  auto doc = json::parse(text, options.limits);
  if (!doc) return doc.error();
  return load(*doc, options);
}

Result<FlagSet> load(const Json& document, const LoadOptions& options) {
  if (!document.is_object()) return Error{"invalid_definitions", "document must be an object", ""};
  FlagSet set;
  const auto md = document.find("metadata");
  if (md != document.end() && md->is_object()) set.metadata = *md;
  const Json* evaluators = nullptr;
  const auto ev = document.find("$evaluators");
  if (ev != document.end() && ev->is_object()) evaluators = &*ev;

  const auto flags = document.find("flags");
  if (flags == document.end()) {
    return Error{"invalid_definitions", "missing required property 'flags'", "/flags"};
  }
  if (flags->is_object()) {
    for (auto it = flags->begin(); it != flags->end(); ++it) {
      auto flag = load_flag(it.key(), it.value(), set.metadata, evaluators, options);
      if (!flag) return flag.error();
      set.flags.emplace(flag->key, std::move(*flag));
    }
  } else if (flags->is_array()) {
    for (std::size_t i = 0; i < flags->size(); ++i) {
      const Json& f = (*flags)[i];
      const auto key = f.is_object() ? f.find("key") : f.end();
      if (!f.is_object() || key == f.end() || !key->is_string()) {
        return Error{"invalid_flag", "flag in an array needs a string 'key'",
                     "/flags/" + std::to_string(i)};
      }
      auto flag = load_flag(key->get<std::string>(), f, set.metadata, evaluators, options);
      if (!flag) return flag.error();
      // Later sources win on key collisions in flagd; within one array, the later entry wins.
      set.flags.insert_or_assign(flag->key, std::move(*flag));
    }
  } else {
    return Error{"invalid_definitions", "flags must be an object or an array", "/flags"};
  }
  return set;
}

}  // namespace ff::flags
