#include "common/eval/resolver.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "common/eval/rule_internal.h"

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

struct VariantRef {
  const std::string* name = nullptr;
  const Json* value = nullptr;
};

enum class Kind : std::uint8_t {
  kRule,      // targeting to evaluate
  kStatic,    // no targeting: the default variant (STATIC), or no value (DEFAULT)
  kDisabled,  // state DISABLED
  kInvalid,   // targeting could not be prepared: PARSE_ERROR
};

// One flag, compiled. Engine::Impl keeps them in one vector, in key order, so that
// resolve_all walks memory sequentially; the fields every resolution reads come first.
struct CompiledFlag {  // NOLINT(bugprone-exception-escape): nlohmann's noexcept(false) ctors
  std::string key;
  Kind kind = Kind::kStatic;
  Reason static_reason = Reason::kDefault;
  // The rule's constants that name a variant: Impl::result_keys/result_variants
  // [results_begin, results_begin + results_count), sorted by address. A targeting result
  // returned by reference from the rule is mapped without a lookup in `variants`.
  std::uint32_t results_begin = 0;
  std::uint32_t results_count = 0;
  Rule rule;  // empty unless kind is kRule
  const std::string* default_name = nullptr;
  const Json* default_value = nullptr;
  const Json* metadata = nullptr;  // merged flag metadata
  const flags::Flag* flag = nullptr;
  std::string error;  // kInvalid: why
  Json key_json;      // the key as JSON, for $flagd.flagKey (Env::flag_key_json)
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

// Variant lookup in a flag's `variants` object (nlohmann's std::map with std::less<>).
struct NameRef {
  std::string_view text;
};
[[maybe_unused]] bool operator<(const std::string& a, const NameRef& b) {
  return std::string_view(a) < b.text;
}
[[maybe_unused]] bool operator<(const NameRef& a, const std::string& b) {
  return a.text < std::string_view(b);
}

std::optional<VariantRef> find_variant(const Json& variants, std::string_view name) {
  const auto* obj = variants.get_ptr<const Json::object_t*>();
  if (obj == nullptr) return std::nullopt;
  const auto it = obj->find(NameRef{name});
  if (it == obj->end()) return std::nullopt;
  return VariantRef{&it->first, &it->second};
}

// The variant a targeting result names (flagd: strings as-is, booleans "true"/"false",
// numbers as JavaScript prints them), looked up by name.
std::optional<VariantRef> variant_named_by(const flags::Flag& flag, const Json& result) {
  if (result.is_string()) return find_variant(flag.variants, result.get_ref<const std::string&>());
  if (result.is_boolean()) return find_variant(flag.variants, bool_name(result.get<bool>()));
  return find_variant(flag.variants, json::variant_name(result));
}

struct ResultCollector {
  const flags::Flag* flag;
  std::vector<std::pair<const Json*, VariantRef>> found;
};

void add_result(const Json& value, void* user) {
  auto* c = static_cast<ResultCollector*>(user);
  if (const auto v = variant_named_by(*c->flag, value)) c->found.emplace_back(&value, *v);
}

// The constants of every rule that name a variant (see CompiledFlag::results_begin).
struct ResultTable {
  std::vector<const Json*> keys;
  std::vector<VariantRef> variants;
};

// Open-addressing hash index from flag key to flag (linear probing, load factor <= 1/4: a
// pointer per slot is cheap next to a second probe).
class KeyIndex {
 public:
  void build(const std::vector<CompiledFlag>& flags) {
    std::size_t cap = 16;
    while (cap < flags.size() * 4) cap *= 2;
    slots_.assign(cap, nullptr);
    mask_ = cap - 1;
    for (const CompiledFlag& f : flags) {
      std::size_t i = hash(f.key) & mask_;
      while (slots_[i] != nullptr) i = (i + 1) & mask_;
      slots_[i] = &f;
    }
  }

  const CompiledFlag* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const CompiledFlag* f = slots_[i];
      if (f == nullptr) return nullptr;
      if (detail::same_string(f->key, key)) return f;
    }
  }

 private:
  static std::uint64_t load8(const char* p) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    return w;
  }

  // 8 bytes at a time, multiplicative mixing; quality is ample for a table of flag keys.
  static std::size_t hash(std::string_view s) {
    constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
    std::uint64_t h = s.size() * kMul;
    const char* p = s.data();
    std::size_t n = s.size();
    while (n > 8) {
      h = (h ^ load8(p)) * kMul;
      h ^= h >> 29;
      p += 8;
      n -= 8;
    }
    std::uint64_t w = 0;
    if (s.size() >= 8) {
      w = load8(s.data() + s.size() - 8);  // the last 8 bytes, overlapping
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        w |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
      }
    }
    h = (h ^ w) * kMul;
    h ^= h >> 32;
    return static_cast<std::size_t>(h);
  }

  std::vector<const CompiledFlag*> slots_;
  std::size_t mask_ = 0;
};

}  // namespace

struct Engine::Impl {
  flags::FlagSet set;
  EvalLimits limits;
  std::vector<CompiledFlag> flags;  // in key order; never resized after construction
  ResultTable results;
  KeyIndex index;
  detail::PathNumbering paths;  // constant context paths of every rule, for resolve_all
};

Engine::Engine(flags::FlagSet set, EvalLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->set = std::move(set);
  impl_->limits = limits;
  impl_->flags.reserve(impl_->set.flags.size());
  for (auto& [key, flag] : impl_->set.flags) {
    CompiledFlag& cf = impl_->flags.emplace_back();
    cf.key = key;
    cf.flag = &flag;
    cf.metadata = &flag.metadata;
    cf.key_json = key;
    if (flag.default_variant) {
      const auto it_default = flag.variants.find(*flag.default_variant);
      if (it_default != flag.variants.end()) {
        cf.default_name = &it_default.key();
        cf.default_value = &it_default.value();
      }
    }
    cf.static_reason = cf.default_name != nullptr ? Reason::kStatic : Reason::kDefault;
    // Targeting is compiled even for a disabled flag: compile_errors() reports it too.
    if (!flag.targeting_error.empty()) {
      cf.kind = Kind::kInvalid;
      cf.error = flag.targeting_error;
    } else if (!flag.targeting.is_null()) {
      auto rule = Rule::compile(flag.targeting);
      if (rule) {
        cf.kind = Kind::kRule;
        cf.rule = std::move(*rule);
        detail::RuleAccess::number_paths(cf.rule, impl_->paths);
        ResultCollector collector{&flag, {}};
        cf.rule.for_each_constant(&add_result, &collector);
        std::sort(collector.found.begin(), collector.found.end(), [](const auto& a, const auto& b) {
          return std::less<const Json*>()(a.first, b.first);
        });
        cf.results_begin = static_cast<std::uint32_t>(impl_->results.keys.size());
        cf.results_count = static_cast<std::uint32_t>(collector.found.size());
        for (const auto& [constant, variant] : collector.found) {
          impl_->results.keys.push_back(constant);
          impl_->results.variants.push_back(variant);
        }
        // The compiled rule owns copies of everything it needs: the JSON tree is dead weight
        // (about half the agent's heap with 1,000 flags; docs/benchmarks.md "Agent footprint").
        flag.targeting = Json();
      } else {
        cf.kind = Kind::kInvalid;
        cf.error = rule.error().message;
      }
    }
    if (flag.state == flags::State::kDisabled) cf.kind = Kind::kDisabled;
  }
  impl_->index.build(impl_->flags);
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const flags::FlagSet& Engine::flag_set() const {
  return impl_->set;
}
std::size_t Engine::size() const {
  return impl_->flags.size();
}

std::vector<std::string> Engine::compile_errors() const {
  std::vector<std::string> out;
  for (const CompiledFlag& cf : impl_->flags) {
    if (!cf.error.empty()) out.push_back(cf.key + ": " + cf.error);
  }
  return out;
}

namespace {

// Maps a targeting result (not null) to the variant it names. Results returned by reference
// from the rule's constants are found by address; others by name.
[[gnu::always_inline]] inline bool match_variant(const CompiledFlag& cf, const ResultTable& table,
                                                 const Json& result, VariantRef& out) {
  const std::vector<const Json*>& keys = table.keys;
  const std::vector<VariantRef>& variants = table.variants;
  const Json* const* first = keys.data() + cf.results_begin;
  const Json* const* last = first + cf.results_count;
  if (cf.results_count <= 8) {
    for (const Json* const* k = first; k != last; ++k) {
      if (*k == &result) {
        out = variants[static_cast<std::size_t>(k - keys.data())];
        return true;
      }
    }
  } else {
    const Json* const* k = std::lower_bound(first, last, &result, std::less<const Json*>());
    if (k != last && *k == &result) {
      out = variants[static_cast<std::size_t>(k - keys.data())];
      return true;
    }
  }
  const auto v = variant_named_by(*cf.flag, result);
  if (!v) return false;
  out = *v;
  return true;
}

// Fills `r` (default-constructed) with the resolution of one flag. `memo`: lookups shared
// with the other flags resolved against `context` (nullptr: none).
[[gnu::always_inline]] inline void resolve_compiled(Resolution& r, const CompiledFlag& cf,
                                                    const EvalLimits& limits,
                                                    const ResultTable& table, const Json& context,
                                                    std::int64_t now,
                                                    std::optional<ValueType> expected,
                                                    detail::PathMemo* memo) {
  const std::string& key = cf.key;
  r.key = key;
  r.metadata = cf.metadata;
  switch (cf.kind) {
    case Kind::kDisabled:
      r.reason = Reason::kDisabled;
      return;
    case Kind::kInvalid:
      r.reason = Reason::kError;
      r.error = ErrorCode::kParseError;
      r.error_details = "invalid targeting for flag '" + key + "': " + cf.error;
      return;
    case Kind::kStatic:
      r.reason = cf.static_reason;
      r.variant = cf.default_name;
      r.value = cf.default_value;
      break;
    case Kind::kRule: {
      const Env env{key, now, &cf.key_json};
      std::optional<Json> storage;
      // The error message, if any, is written straight into the resolution.
      const Json* result = detail::RuleAccess::evaluate(cf.rule, context, env, limits, memo,
                                                        storage, r.error_details);
      if (result == nullptr) {
        r.reason = Reason::kError;
        r.error = ErrorCode::kParseError;
        r.error_details = "targeting failed for flag '" + key + "': " + r.error_details;
        return;
      }
      if (result->is_null()) {
        r.reason = Reason::kDefault;
        r.variant = cf.default_name;
        r.value = cf.default_value;
        break;
      }
      VariantRef variant;
      if (!match_variant(cf, table, *result, variant)) {
        r.reason = Reason::kError;
        r.error = ErrorCode::kGeneral;
        r.error_details =
            "variant '" + json::variant_name(*result) + "' not found in flag '" + key + "'";
        return;
      }
      r.reason = Reason::kTargetingMatch;
      r.variant = variant.name;
      r.value = variant.value;
      break;
    }
  }
  if (expected && r.value != nullptr && !type_matches(*r.value, *expected)) {
    r.reason = Reason::kError;
    r.error = ErrorCode::kTypeMismatch;
    r.error_details = "flag '" + key + "' does not have the requested type";
    r.value = nullptr;
    r.variant = nullptr;
  }
}

}  // namespace

Resolution Engine::resolve(std::string_view key, const Json& context, std::int64_t now,
                           std::optional<ValueType> expected) const {
  Resolution r;
  const CompiledFlag* cf = impl_->index.find(key);
  if (cf == nullptr) {
    r.key = key;
    r.reason = Reason::kError;
    r.error = ErrorCode::kFlagNotFound;
    r.error_details = "flag '" + std::string(key) + "' not found";
    r.metadata = &impl_->set.metadata;
    return r;
  }
  resolve_compiled(r, *cf, impl_->limits, impl_->results, context, now, expected, nullptr);
  return r;
}

void Engine::resolve_all(const Json& context, std::int64_t now,
                         std::vector<Resolution>& out) const {
  out.clear();
  out.reserve(impl_->flags.size());
  detail::PathMemo memo(impl_->paths.size());
  for (const CompiledFlag& cf : impl_->flags) {
    resolve_compiled(out.emplace_back(), cf, impl_->limits, impl_->results, context, now,
                     std::nullopt, &memo);
  }
}

}  // namespace ff::eval
