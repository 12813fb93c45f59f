#include "common/eval/resolver.h"

#include <map>

namespace ff::eval {

const char* to_string(Reason reason) {
  switch (reason) {
    case Reason::kStatic:
      return "STATIC";
    case Reason::kTargetingMatch:
      return "TARGETING_MATCH";
    case Reason::kDefault:
      return "DEFAULT";
    case Reason::kDisabled:
      return "DISABLED";
    case Reason::kError:
      return "ERROR";
  }
  return "ERROR";
}

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return "";
    case ErrorCode::kFlagNotFound:
      return "FLAG_NOT_FOUND";
    case ErrorCode::kParseError:
      return "PARSE_ERROR";
    case ErrorCode::kTypeMismatch:
      return "TYPE_MISMATCH";
    case ErrorCode::kGeneral:
      return "GENERAL";
  }
  return "GENERAL";
}

namespace {

struct CompiledFlag {
  const flags::Flag* flag = nullptr;
  Rule rule;          // empty when the flag has no targeting
  std::string error;  // targeting could not be prepared: PARSE_ERROR
  const std::string* default_name = nullptr;
  const Json* default_value = nullptr;
};

const std::string& bool_name(bool b) {
  static const std::string names[2] = {"false", "true"};
  return names[b ? 1 : 0];
}

bool type_matches(const Json& v, ValueType t) {
  switch (t) {
    case ValueType::kBoolean:
      return v.is_boolean();
    case ValueType::kString:
      return v.is_string();
    case ValueType::kNumber:
      return v.is_number();
    case ValueType::kObject:
      return v.is_object() || v.is_array();
  }
  return false;
}

// Receives the targeting result from Rule::evaluate_with and maps it to a variant without
// copying strings: the result is looked up while it is still alive.
struct Match {
  const CompiledFlag* cf = nullptr;
  bool is_null = false;
  bool found = false;
  const std::string* name = nullptr;
  const Json* value = nullptr;
  std::string missing;  // the variant name that was not found

  static void sink(const Json& result, void* user) {
    auto* m = static_cast<Match*>(user);
    if (result.is_null()) {
      m->is_null = true;
      return;
    }
    const Json& variants = m->cf->flag->variants;
    Json::const_iterator it;
    if (result.is_string()) {
      it = variants.find(result.get_ref<const std::string&>());
    } else if (result.is_boolean()) {
      it = variants.find(bool_name(result.get<bool>()));
    } else {
      m->missing = json::variant_name(result);
      it = variants.find(m->missing);
    }
    if (it == variants.end()) {
      if (m->missing.empty()) m->missing = json::variant_name(result);
      return;
    }
    m->found = true;
    m->name = &it.key();
    m->value = &it.value();
  }
};

}  // namespace

struct Engine::Impl {
  flags::FlagSet set;
  EvalLimits limits;
  std::map<std::string, CompiledFlag, std::less<>> compiled;
};

Engine::Engine(flags::FlagSet set, EvalLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->set = std::move(set);
  impl_->limits = limits;
  for (const auto& [key, flag] : impl_->set.flags) {
    CompiledFlag cf;
    cf.flag = &flag;
    if (!flag.targeting_error.empty()) {
      cf.error = flag.targeting_error;
    } else if (!flag.targeting.is_null()) {
      auto rule = Rule::compile(flag.targeting);
      if (rule) {
        cf.rule = std::move(*rule);
      } else {
        cf.error = rule.error().message;
      }
    }
    if (flag.default_variant) {
      const auto it = flag.variants.find(*flag.default_variant);
      if (it != flag.variants.end()) {
        cf.default_name = &it.key();
        cf.default_value = &it.value();
      }
    }
    impl_->compiled.emplace(key, std::move(cf));
  }
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const flags::FlagSet& Engine::flag_set() const {
  return impl_->set;
}
std::size_t Engine::size() const {
  return impl_->compiled.size();
}

std::vector<std::string> Engine::compile_errors() const {
  std::vector<std::string> out;
  for (const auto& [key, cf] : impl_->compiled) {
    if (!cf.error.empty()) out.push_back(key + ": " + cf.error);
  }
  return out;
}

namespace {

Resolution resolve_compiled(const std::string& key, const CompiledFlag& cf, const Json& context,
                            std::int64_t now, const EvalLimits& limits,
                            std::optional<ValueType> expected) {
  Resolution r;
  r.key = key;
  r.metadata = &cf.flag->metadata;
  if (cf.flag->state == flags::State::kDisabled) {
    r.reason = Reason::kDisabled;
    return r;
  }
  if (!cf.error.empty()) {
    r.reason = Reason::kError;
    r.error = ErrorCode::kParseError;
    r.error_details = "invalid targeting for flag '" + key + "': " + cf.error;
    return r;
  }
  if (cf.rule.empty()) {
    r.reason = cf.default_name != nullptr ? Reason::kStatic : Reason::kDefault;
    r.variant = cf.default_name;
    r.value = cf.default_value;
  } else {
    Match m;
    m.cf = &cf;
    std::string error;
    const Env env{key, now};
    if (!cf.rule.evaluate_with(context, env, limits, &Match::sink, &m, error)) {
      r.reason = Reason::kError;
      r.error = ErrorCode::kParseError;
      r.error_details = "targeting failed for flag '" + key + "': " + error;
      return r;
    }
    if (m.is_null) {
      r.reason = Reason::kDefault;
      r.variant = cf.default_name;
      r.value = cf.default_value;
    } else if (!m.found) {
      r.reason = Reason::kError;
      r.error = ErrorCode::kGeneral;
      r.error_details = "variant '" + m.missing + "' not found in flag '" + key + "'";
      return r;
    } else {
      r.reason = Reason::kTargetingMatch;
      r.variant = m.name;
      r.value = m.value;
    }
  }
  if (expected && r.value != nullptr && !type_matches(*r.value, *expected)) {
    r.reason = Reason::kError;
    r.error = ErrorCode::kTypeMismatch;
    r.error_details = "flag '" + key + "' does not have the requested type";
    r.value = nullptr;
    r.variant = nullptr;
  }
  return r;
}

}  // namespace

Resolution Engine::resolve(std::string_view key, const Json& context, std::int64_t now,
                           std::optional<ValueType> expected) const {
  const auto it = impl_->compiled.find(key);
  if (it == impl_->compiled.end()) {
    Resolution r;
    r.key = key;
    r.reason = Reason::kError;
    r.error = ErrorCode::kFlagNotFound;
    r.error_details = "flag '" + std::string(key) + "' not found";
    r.metadata = &impl_->set.metadata;
    return r;
  }
  return resolve_compiled(it->first, it->second, context, now, impl_->limits, expected);
}

void Engine::resolve_all(const Json& context, std::int64_t now,
                         std::vector<Resolution>& out) const {
  out.clear();
  out.reserve(impl_->compiled.size());
  for (const auto& [key, cf] : impl_->compiled) {
    out.push_back(resolve_compiled(key, cf, context, now, impl_->limits, std::nullopt));
  }
}

}  // namespace ff::eval
