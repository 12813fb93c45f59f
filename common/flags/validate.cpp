// Strict validation of flagd definitions: a hand-written mirror of flagd-schemas (0.2.15)
// flags.json / flagd.json / targeting.json, plus what flagd itself enforces when it loads a file
// (core/pkg/evaluator/json.go) or evaluates a rule:
// - a non-empty defaultVariant must name a variant, and no evaluator may be `{}` (flagd refuses
//   the whole file otherwise);
// - every {"$ref": name}, wherever it appears in a rule, must name an $evaluators entry, and refs
//   between evaluators must not form a cycle (the flag would fail with PARSE_ERROR);
// - literal fractional weights must not add up to more than 2147483647.
//
// Notes on mirroring the schema literally (draft-07, as ajv and gojsonschema apply it):
// - Object keys of `flags`, `variants` and `$evaluators` must match ECMAScript /^.{1,}$/u:
//   non-empty, without line terminators (\n, \r, U+2028, U+2029).
// - `args` is oneOf(reference, anyRule, primitive): arrays are primitives and are not looked
//   into, and `{}` is rejected there because it matches both a reference and a rule.
// - Every rule definition is "additionalProperties: false" over its own operators without
//   `required`, so one object may hold several operators of the same rule kind (e.g. "==" with
//   "!=") but not of two kinds; `{}` is a valid rule.
// - The unary operators accept any array (primitive) or a single argument.
// - `var` restricts only strings starting with "$flagd." (to timestamp / flagKey).
// - `{"$ref": name}` is allowed only as an operator argument, not as a whole targeting rule,
//   bucketing value, fractional weight or starts_with/ends_with operand.
#include "common/flags/validate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <exception>
#include <limits>
#include <map>
#include <utility>

namespace ff::flags {
namespace {

// Nesting (in JSON levels from the document root) beyond which targeting is not walked. Parsed
// documents are limited to 64 levels by json::parse; this guards documents built in memory.
constexpr std::size_t kMaxDepth = 200;
// A hostile document can produce one violation per value, each carrying a long path. Reporting
// stops (with a final notice) past either bound.
constexpr std::size_t kMaxViolations = 10000;
constexpr std::size_t kMaxReportBytes = std::size_t{32} << 20;
// flagd's fractional (v2) limit on the sum of bucket weights (targeting.json description).
constexpr double kMaxTotalWeight = 2147483647.0;
constexpr std::size_t kMaxQuotedBytes = 64;

// The kinds of operand lists targeting.json defines (definitions/*Op).
enum class OpKind {
  kVar,              // varRule
  kMissing,          // missingRule
  kMissingSome,      // missingSomeRule
  kBinary,           // binaryOp: exactly 2 args
  kBinaryOrTernary,  // binaryOrTernaryOp: 2 or 3 args
  kAssociative,      // associativeOp: at least 2 args
  kUnary,            // unaryOp: [arg] or arg
  kVariadic,         // variadicOp: at least 1 arg
  kReduce,           // reduceRule: exactly 3 args
  kStringCompare,    // stringCompareArgs: exactly 2 of string | rule
  kSemVer,           // ruleSemVer
  kFractional,       // fractionalOp | fractionalShorthandOp
};

struct OpSpec {
  std::string_view name;
  OpKind kind;
  // The anyRule member (definitions/*Rule) that declares the operator. Operators of different
  // groups cannot share one object.
  std::string_view group;
};

constexpr OpSpec kOps[] = {
    {"var", OpKind::kVar, "varRule"},
    {"missing", OpKind::kMissing, "missingRule"},
    {"missing_some", OpKind::kMissingSome, "missingSomeRule"},
    {"substr", OpKind::kBinaryOrTernary, "binaryOrTernaryRule"},
    {"<", OpKind::kBinaryOrTernary, "binaryOrTernaryRule"},
    {"<=", OpKind::kBinaryOrTernary, "binaryOrTernaryRule"},
    {"if", OpKind::kVariadic, "binaryRule"},
    {"==", OpKind::kBinary, "binaryRule"},
    {"===", OpKind::kBinary, "binaryRule"},
    {"!=", OpKind::kBinary, "binaryRule"},
    {"!==", OpKind::kBinary, "binaryRule"},
    {">", OpKind::kBinary, "binaryRule"},
    {">=", OpKind::kBinary, "binaryRule"},
    {"%", OpKind::kBinary, "binaryRule"},
    {"/", OpKind::kBinary, "binaryRule"},
    {"map", OpKind::kBinary, "binaryRule"},
    {"filter", OpKind::kBinary, "binaryRule"},
    {"all", OpKind::kBinary, "binaryRule"},
    {"none", OpKind::kBinary, "binaryRule"},
    {"some", OpKind::kBinary, "binaryRule"},
    {"in", OpKind::kBinary, "binaryRule"},
    {"reduce", OpKind::kReduce, "reduceRule"},
    {"*", OpKind::kAssociative, "associativeRule"},
    {"!", OpKind::kUnary, "unaryRule"},
    {"!!", OpKind::kUnary, "unaryRule"},
    {"or", OpKind::kVariadic, "variadicRule"},
    {"and", OpKind::kVariadic, "variadicRule"},
    {"+", OpKind::kVariadic, "variadicRule"},
    {"-", OpKind::kVariadic, "variadicRule"},
    {"max", OpKind::kVariadic, "variadicRule"},
    {"min", OpKind::kVariadic, "variadicRule"},
    {"merge", OpKind::kVariadic, "variadicRule"},
    {"cat", OpKind::kVariadic, "variadicRule"},
    {"starts_with", OpKind::kStringCompare, "stringCompareRule"},
    {"ends_with", OpKind::kStringCompare, "stringCompareRule"},
    {"sem_ver", OpKind::kSemVer, "ruleSemVer"},
    {"fractional", OpKind::kFractional, "fractionalRule"},
};

const OpSpec* find_op(std::string_view name) {
  for (const auto& op : kOps) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

constexpr std::array<std::string_view, 8> kSemVerOperators{"=",  "!=", ">", "<",
                                                           ">=", "<=", "~", "^"};

// ECMAScript /^.{1,}$/u, the key pattern of flags.json's patternProperties: `.` matches every
// code point except the line terminators LF, CR, U+2028 and U+2029.
bool has_line_terminator(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\n' || c == '\r') return true;
    if (c == '\xE2' && i + 2 < s.size() && s[i + 1] == '\x80' &&
        (s[i + 2] == '\xA8' || s[i + 2] == '\xA9')) {
      return true;
    }
  }
  return false;
}

bool matches_key_pattern(std::string_view key) {
  return !key.empty() && !has_line_terminator(key);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

// 0|[1-9]\d*
bool is_numeric_identifier(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), is_digit)) return false;
  return s.size() == 1 || s[0] != '0';
}

// Splits on '.' and requires every part to satisfy `pred`; an empty list fails.
template <typename Pred>
bool all_dot_parts(std::string_view s, Pred pred) {
  while (true) {
    const auto dot = s.find('.');
    if (!pred(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// targeting.json definitions/semVerString, the semver.org 2.0.0 regular expression:
// MAJOR.MINOR.PATCH, optional -prerelease (numeric identifiers without leading zeros), optional
// +build. Hand-written because std::regex recurses per character on long input.
bool is_semver(std::string_view s) {
  std::string_view build;
  bool has_build = false;
  if (const auto plus = s.find('+'); plus != std::string_view::npos) {
    build = s.substr(plus + 1);
    s = s.substr(0, plus);
    has_build = true;
  }
  std::string_view pre;
  bool has_pre = false;
  if (const auto dash = s.find('-'); dash != std::string_view::npos) {
    pre = s.substr(dash + 1);
    s = s.substr(0, dash);
    has_pre = true;
  }
  int parts = 0;
  const bool core_ok = all_dot_parts(s, [&parts](std::string_view p) {
    ++parts;
    return is_numeric_identifier(p);
  });
  if (!core_ok || parts != 3) return false;
  if (has_pre && !all_dot_parts(pre, [](std::string_view p) {
        if (p.empty() || !std::all_of(p.begin(), p.end(), is_ident_char)) return false;
        const bool numeric = std::all_of(p.begin(), p.end(), is_digit);
        return !numeric || is_numeric_identifier(p);
      })) {
    return false;
  }
  if (has_build && !all_dot_parts(build, [](std::string_view p) {
        return !p.empty() && std::all_of(p.begin(), p.end(), is_ident_char);
      })) {
    return false;
  }
  return true;
}

// JSON Schema "integer" (draft-06+): any number with a zero fractional part.
bool is_integer_number(const Json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

// A member name for a reason text: JSON-quoted, cut to a bounded length on a UTF-8 boundary.
std::string quote(std::string_view s) {
  bool cut = false;
  if (s.size() > kMaxQuotedBytes) {
    std::size_t end = kMaxQuotedBytes;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    s = s.substr(0, end);
    cut = true;
  }
  std::string out = Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

// The value types a flag's variants may share (flags.json *Variants).
enum class VariantType { kBoolean, kString, kNumber, kObject, kNone };

VariantType variant_type(const Json& v) {
  if (v.is_boolean()) return VariantType::kBoolean;
  if (v.is_string()) return VariantType::kString;
  if (v.is_number()) return VariantType::kNumber;
  if (v.is_object()) return VariantType::kObject;
  return VariantType::kNone;
}

const char* to_string(VariantType t) {
  switch (t) {
    case VariantType::kBoolean:
      return "boolean";
    case VariantType::kString:
      return "string";
    case VariantType::kNumber:
      return "number";
    case VariantType::kObject:
      return "object";
    case VariantType::kNone:
      break;
  }
  return "none";
}

// flags.json is the providers' root (flags as a map only); flagd.json, the daemon's root, also
// accepts an array. A document whose $schema names flags.json is held to the former; any other
// document (no $schema, flagd.json, something else) to the latter, which fleetflag loads.
bool schema_is_flags_json(const Json& document) {
  const auto it = document.find("$schema");
  if (it == document.end() || !it->is_string()) return false;
  std::string_view s = it->get_ref<const std::string&>();
  s = s.substr(0, s.find_first_of("#?"));
  if (const auto slash = s.find_last_of("/\\"); slash != std::string_view::npos) {
    s.remove_prefix(slash + 1);
  }
  return s == "flags.json";
}

// Strongly connected components of a directed graph, iteratively (Tarjan); the result maps
// each node to its component id.
std::vector<std::size_t> strongly_connected(const std::vector<std::vector<std::size_t>>& adj) {
  constexpr std::size_t kUnset = std::numeric_limits<std::size_t>::max();
  const std::size_t n = adj.size();
  std::vector<std::size_t> index(n, kUnset), low(n, 0), comp(n, kUnset);
  std::vector<bool> on_stack(n, false);
  std::vector<std::size_t> stack;
  std::vector<std::pair<std::size_t, std::size_t>> calls;  // node, next edge to follow
  std::size_t next_index = 0;
  std::size_t next_comp = 0;
  const auto visit = [&](std::size_t v) {
    index[v] = low[v] = next_index++;
    stack.push_back(v);
    on_stack[v] = true;
    calls.emplace_back(v, 0);
  };
  for (std::size_t root = 0; root < n; ++root) {
    if (index[root] != kUnset) continue;
    visit(root);
    while (!calls.empty()) {
      const std::size_t v = calls.back().first;
      const std::size_t e = calls.back().second;
      if (e < adj[v].size()) {
        ++calls.back().second;
        const std::size_t w = adj[v][e];
        if (index[w] == kUnset) {
          visit(w);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      if (low[v] == index[v]) {
        std::size_t w = kUnset;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          comp[w] = next_comp;
        } while (w != v);
        ++next_comp;
      }
      calls.pop_back();
      if (!calls.empty()) {
        const std::size_t parent = calls.back().first;
        low[parent] = std::min(low[parent], low[v]);
      }
    }
  }
  return comp;
}

class Validator {
 public:
  std::vector<Violation> run(const Json& document) {
    this->document(document);
    if (truncated_) {
      out_.push_back(
          {"", "too many violations; stopped reporting after " + std::to_string(out_.size())});
    }
    return std::move(out_);
  }

 private:
  // Appends one reference token to the current path for the lifetime of the object.
  class Push {
   public:
    Push(Validator& v, std::string_view token) : v_(v), size_(v.path_.size()) {
      v_.path_ += '/';
      v_.path_ += json::pointer_token(token);
    }
    Push(Validator& v, std::size_t index) : v_(v), size_(v.path_.size()) {
      v_.path_ += '/';
      v_.path_ += std::to_string(index);
    }
    ~Push() { v_.path_.resize(size_); }
    Push(const Push&) = delete;
    Push& operator=(const Push&) = delete;

   private:
    Validator& v_;
    std::size_t size_;
  };

  // A {"$ref"} inside evaluator `from` naming evaluator `to`, found at `path`.
  struct RefEdge {
    std::size_t from;
    std::size_t to;
    std::string target;
    std::string path;
  };

  bool full() const { return truncated_; }

  void report(std::string reason) {
    if (truncated_) return;
    if (out_.size() >= kMaxViolations || bytes_ + path_.size() + reason.size() > kMaxReportBytes) {
      truncated_ = true;
      return;
    }
    bytes_ += path_.size() + reason.size();
    out_.push_back({path_, std::move(reason)});
  }

  // --- flags.json / flagd.json ------------------------------------------------------------

  void document(const Json& doc) {
    if (!doc.is_object()) {
      report("must be an object with a \"flags\" member (flags.json: type object)");
      return;
    }
    const auto ev = doc.find("$evaluators");
    if (ev != doc.end()) {
      if (ev->is_object()) {
        std::size_t i = 0;
        for (auto it = ev->begin(); it != ev->end(); ++it) evaluator_ids_.emplace(it.key(), i++);
      }
      Push p(*this, "$evaluators");
      evaluators(*ev);
    }

    const auto flags = doc.find("flags");
    if (flags == doc.end()) {
      report("missing required property \"flags\"");
    } else {
      Push p(*this, "flags");
      if (flags->is_object()) {
        flags_map(*flags);
      } else if (flags->is_array()) {
        if (schema_is_flags_json(doc)) {
          report(
              "must be an object: $schema names flags.json, whose root (providerConfig) accepts "
              "flags only as a map; flagd.json also accepts an array");
        }
        flags_array(*flags);
      } else {
        report(
            "must be an object mapping flag keys to flags (or, under flagd.json, an array of "
            "flags with \"key\")");
      }
    }

    const auto md = doc.find("metadata");
    if (md != doc.end()) {
      Push p(*this, "metadata");
      metadata(*md, /*flag_set=*/true);
    }
    ref_cycles();
  }

  void flags_map(const Json& flags) {
    for (auto it = flags.begin(); it != flags.end() && !full(); ++it) {
      Push p(*this, it.key());
      if (!matches_key_pattern(it.key())) {
        report(
            "flag key must be non-empty and contain no line break (flags.json "
            "patternProperties \"^.{1,}$\")");
      }
      flag(it.value(), /*in_array=*/false);
    }
  }

  void flags_array(const Json& flags) {
    for (std::size_t i = 0; i < flags.size() && !full(); ++i) {
      Push p(*this, i);
      flag(flags[i], /*in_array=*/true);
    }
  }

  void flag(const Json& f, bool in_array) {
    if (!f.is_object()) {
      report("must be an object (a flag definition)");
      return;
    }
    if (in_array) {
      const auto key = f.find("key");
      if (key == f.end()) {
        report("missing required property \"key\" (flagd.json: flags in an array carry their key)");
      } else if (!key->is_string()) {
        Push p(*this, "key");
        report("must be a string");
      } else if (key->get_ref<const std::string&>().empty()) {
        Push p(*this, "key");
        report("must not be empty (minLength 1)");
      }
    }

    const auto state = f.find("state");
    if (state == f.end()) {
      report("missing required property \"state\"");
    } else if (!state->is_string() || (*state != "ENABLED" && *state != "DISABLED")) {
      Push p(*this, "state");
      report("must be \"ENABLED\" or \"DISABLED\"");
    }

    const auto variants = f.find("variants");
    const auto dv = f.find("defaultVariant");
    const Json* default_value = nullptr;
    if (variants != f.end() && variants->is_object() && dv != f.end() && dv->is_string()) {
      const auto v = variants->find(dv->get_ref<const std::string&>());
      if (v != variants->end()) default_value = &*v;
    }
    if (variants == f.end()) {
      report("missing required property \"variants\"");
    } else {
      Push p(*this, "variants");
      this->variants(*variants, default_value);
    }

    if (dv != f.end()) {
      Push p(*this, "defaultVariant");
      if (!dv->is_string() && !dv->is_null()) {
        report("must be a string naming a variant, or null");
      } else if (dv->is_string() && !dv->get_ref<const std::string&>().empty() &&
                 variants != f.end() && variants->is_object() && default_value == nullptr) {
        // flagd: json.go validateDefaultVariants refuses the whole file ("" counts as absent).
        report(quote(dv->get_ref<const std::string&>()) +
               " is not a key of variants (flagd refuses a file whose defaultVariant names no "
               "variant)");
      }
    }

    const auto targeting = f.find("targeting");
    if (targeting != f.end()) {
      Push p(*this, "targeting");
      targeting_root(*targeting, path_depth());
      scan_refs(*targeting, path_depth(), kNoEvaluator);
    }

    const auto md = f.find("metadata");
    if (md != f.end()) {
      Push p(*this, "metadata");
      metadata(*md, /*flag_set=*/false);
    }
  }

  // flags.json baseFlag.variants and the typed *Variants: a non-empty object whose values all
  // have one of the types boolean, string, number, object. The flag's type is taken to be the
  // most common one among its variants (ties: the default variant's, then the first variant's),
  // so that the odd ones out are reported.
  void variants(const Json& v, const Json* default_value) {
    if (!v.is_object()) {
      report("must be an object mapping variant names to values");
      return;
    }
    if (v.empty()) {
      report("must have at least one variant (minProperties 1)");
      return;
    }
    std::array<std::size_t, 4> counts{};
    for (const auto& value : v) {
      const auto t = variant_type(value);
      if (t != VariantType::kNone) ++counts[static_cast<std::size_t>(t)];
    }
    VariantType chosen = VariantType::kNone;
    std::size_t best = 0;
    for (std::size_t t = 0; t < counts.size(); ++t) {
      if (counts[t] > best) best = counts[t];
    }
    if (best > 0) {
      if (default_value != nullptr) {
        const auto t = variant_type(*default_value);
        if (t != VariantType::kNone && counts[static_cast<std::size_t>(t)] == best) chosen = t;
      }
      for (auto it = v.begin(); it != v.end() && chosen == VariantType::kNone; ++it) {
        const auto t = variant_type(it.value());
        if (t != VariantType::kNone && counts[static_cast<std::size_t>(t)] == best) chosen = t;
      }
    }
    for (auto it = v.begin(); it != v.end() && !full(); ++it) {
      Push p(*this, it.key());
      if (!matches_key_pattern(it.key())) {
        report(
            "variant name must be non-empty and contain no line break (flags.json "
            "patternProperties \"^.{1,}$\")");
      }
      const auto t = variant_type(it.value());
      if (chosen == VariantType::kNone) {
        report("must be a boolean, string, number or object");
      } else if (t != chosen) {
        report(std::string("must be ") + to_string(chosen) + " (variants of this flag are " +
               to_string(chosen) + "; all variants of a flag have one type)");
      }
    }
  }

  // flags.json definitions/metadata; at flag-set level also baseConfig's flagSetId/version.
  void metadata(const Json& md, bool flag_set) {
    if (!md.is_object()) {
      report("must be an object mapping names to string, number or boolean values");
      return;
    }
    for (auto it = md.begin(); it != md.end() && !full(); ++it) {
      Push p(*this, it.key());
      const Json& v = it.value();
      if (!v.is_string() && !v.is_number() && !v.is_boolean()) {
        report("must be a string, number or boolean (metadata values)");
      } else if (flag_set && !v.is_string() && (it.key() == "flagSetId" || it.key() == "version")) {
        report("must be a string (flag-set metadata " + quote(it.key()) + ")");
      }
    }
  }

  void evaluators(const Json& ev) {
    if (!ev.is_object()) {
      report("must be an object mapping evaluator names to targeting rules");
      return;
    }
    std::size_t id = 0;
    for (auto it = ev.begin(); it != ev.end() && !full(); ++it, ++id) {
      Push p(*this, it.key());
      if (!matches_key_pattern(it.key())) {
        report(
            "evaluator name must be non-empty and contain no line break (flags.json "
            "patternProperties \"^.{1,}$\")");
      }
      const Json& rule = it.value();
      if (rule.is_object() && rule.empty()) {
        // flagd: json.go transposeEvaluators fails with "evaluator object is empty".
        report("must not be empty (flagd refuses a file with an empty evaluator)");
      } else {
        targeting_root(rule, path_depth());
      }
      scan_refs(rule, path_depth(), id);
    }
  }

  // --- targeting.json ---------------------------------------------------------------------

  // The root of targeting.json: an object that is `{}` (no targeting) or an anyRule.
  void targeting_root(const Json& t, std::size_t depth) {
    if (!t.is_object()) {
      report("must be an object: a JSON Logic rule, or {} for none (targeting.json: type object)");
      return;
    }
    rule(t, depth, /*ref_reported=*/false);
  }

  // definitions/anyRule on an object. `ref_reported` is set when the caller already reported a
  // "$ref" member.
  void rule(const Json& r, std::size_t depth, bool ref_reported) {
    if (r.empty()) return;
    if (depth > kMaxDepth) {
      report("nested more than " + std::to_string(kMaxDepth) + " levels deep; not validated");
      return;
    }
    const OpSpec* first = nullptr;
    const OpSpec* other = nullptr;
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (it.key() == "$ref") continue;
      const OpSpec* op = find_op(it.key());
      if (op == nullptr) continue;
      if (first == nullptr) {
        first = op;
      } else if (other == nullptr && op->group != first->group) {
        other = op;
      }
    }
    if (other != nullptr) {
      report("combines " + quote(first->name) + " and " + quote(other->name) +
             ", operators of different targeting.json rules (" + std::string(first->group) + ", " +
             std::string(other->group) + "); use one operator per object");
    }
    for (auto it = r.begin(); it != r.end() && !full(); ++it) {
      Push p(*this, it.key());
      if (it.key() == "$ref") {
        if (!ref_reported) {
          report(
              "a {\"$ref\": name} reference is not allowed here: targeting.json accepts "
              "references only as operator arguments");
        }
        continue;
      }
      const OpSpec* op = find_op(it.key());
      if (op == nullptr) {
        report(quote(it.key()) + " is not an operator targeting.json allows");
        continue;
      }
      operands(*op, it.value(), depth + 1);
    }
  }

  // definitions/args: oneOf(reference, anyRule, primitive).
  void arg(const Json& a, std::size_t depth) {
    if (!a.is_object()) return;  // null, boolean, number, string, array: primitives
    if (a.empty()) {
      report(
          "must not be {}: as an operator argument it matches both a reference and a rule "
          "(targeting.json args is oneOf)");
      return;
    }
    const auto ref = a.find("$ref");
    if (ref == a.end()) {
      rule(a, depth, false);
      return;
    }
    if (a.size() == 1) {
      if (!ref->is_string()) {
        Push p(*this, "$ref");
        report("must be a string naming an $evaluators entry");
      }
      return;
    }
    report("a {\"$ref\": name} reference must have no other members");
    rule(a, depth, /*ref_reported=*/true);
  }

  static std::string arity(std::size_t min, std::size_t max) {
    const auto plural = [](std::size_t n) {
      return std::to_string(n) + (n == 1 ? " argument" : " arguments");
    };
    if (min == max) return "exactly " + plural(min);
    if (max == std::numeric_limits<std::size_t>::max()) return "at least " + plural(min);
    return std::to_string(min) + " to " + plural(max);
  }

  void args_array(const OpSpec& op, const Json& v, std::size_t min, std::size_t max,
                  std::size_t depth) {
    if (!v.is_array()) {
      report("must be an array: " + quote(op.name) + " takes " + arity(min, max));
      return;
    }
    if (v.size() < min || v.size() > max) {
      report(quote(op.name) + " takes " + arity(min, max) + ", got " + std::to_string(v.size()));
    }
    for (std::size_t i = 0; i < v.size() && !full(); ++i) {
      Push p(*this, i);
      arg(v[i], depth + 1);
    }
  }

  void operands(const OpSpec& op, const Json& v, std::size_t depth) {
    constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();
    switch (op.kind) {
      case OpKind::kVar:
        var_operand(v);
        return;
      case OpKind::kMissing:
        string_array(v, "\"missing\" takes an array of variable names");
        return;
      case OpKind::kMissingSome:
        missing_some(v);
        return;
      case OpKind::kBinary:
        args_array(op, v, 2, 2, depth);
        return;
      case OpKind::kBinaryOrTernary:
        args_array(op, v, 2, 3, depth);
        return;
      case OpKind::kAssociative:
        args_array(op, v, 2, kUnbounded, depth);
        return;
      case OpKind::kVariadic:
        args_array(op, v, 1, kUnbounded, depth);
        return;
      case OpKind::kReduce:
        args_array(op, v, 3, 3, depth);
        return;
      case OpKind::kUnary:
        // unaryOp is anyOf([arg], arg); an array always passes as a primitive arg.
        if (!v.is_array()) arg(v, depth);
        return;
      case OpKind::kStringCompare:
        string_compare(op, v, depth);
        return;
      case OpKind::kSemVer:
        sem_ver(v);
        return;
      case OpKind::kFractional:
        fractional(v, depth);
        return;
    }
  }

  // definitions/varRule: only "$flagd."-prefixed strings are constrained.
  void var_operand(const Json& v) {
    if (!v.is_string()) return;
    std::string_view s = v.get_ref<const std::string&>();
    constexpr std::string_view kFlagd = "$flagd.";
    if (s.substr(0, kFlagd.size()) != kFlagd || has_line_terminator(s)) return;
    if (s == "$flagd.timestamp" || s == "$flagd.flagKey") return;
    report(quote(s) +
           " is not a property flagd provides: only $flagd.timestamp and "
           "$flagd.flagKey exist");
  }

  void string_array(const Json& v, std::string_view what) {
    if (!v.is_array()) {
      report("must be an array of strings: " + std::string(what));
      return;
    }
    for (std::size_t i = 0; i < v.size() && !full(); ++i) {
      if (!v[i].is_string()) {
        Push p(*this, i);
        report("must be a string (a variable name)");
      }
    }
  }

  void missing_some(const Json& v) {
    if (!v.is_array()) {
      report("must be an array: \"missing_some\" takes [minimum, [names...]]");
      return;
    }
    if (v.size() != 2) {
      report("\"missing_some\" takes exactly 2 items [minimum, [names...]], got " +
             std::to_string(v.size()));
    }
    if (!v.empty() && !v[0].is_number()) {
      Push p(*this, std::size_t{0});
      report("must be a number (the minimum count of present names)");
    }
    if (v.size() > 1) {
      Push p(*this, 1);
      string_array(v[1], "\"missing_some\" takes [minimum, [names...]]");
    }
  }

  // definitions/stringCompareArgs: exactly two items, each a string or an anyRule.
  void string_compare(const OpSpec& op, const Json& v, std::size_t depth) {
    if (!v.is_array()) {
      report("must be an array: " + quote(op.name) + " takes exactly 2 arguments [value, affix]");
      return;
    }
    if (v.size() != 2) {
      report(quote(op.name) + " takes exactly 2 arguments [value, affix], got " +
             std::to_string(v.size()));
    }
    for (std::size_t i = 0; i < v.size() && !full(); ++i) {
      Push p(*this, i);
      if (v[i].is_string()) continue;
      if (v[i].is_object()) {
        rule(v[i], depth + 1, false);
      } else {
        report("must be a string or a JSON Logic rule (" + quote(op.name) + " compares strings)");
      }
    }
  }

  // definitions/ruleSemVer: [semVerString | varRule, operator, semVerString | varRule].
  void sem_ver(const Json& v) {
    if (!v.is_array()) {
      report("must be an array: \"sem_ver\" takes [version, operator, version]");
      return;
    }
    if (v.size() != 3) {
      report("\"sem_ver\" takes exactly 3 items [version, operator, version], got " +
             std::to_string(v.size()));
    }
    for (std::size_t i = 0; i < v.size() && i < 3 && !full(); ++i) {
      Push p(*this, i);
      if (i == 1) {
        const bool ok = v[i].is_string() &&
                        std::find(kSemVerOperators.begin(), kSemVerOperators.end(),
                                  v[i].get_ref<const std::string&>()) != kSemVerOperators.end();
        if (!ok) report("must be one of \"=\", \"!=\", \">\", \"<\", \">=\", \"<=\", \"~\", \"^\"");
      } else {
        semver_operand(v[i]);
      }
    }
  }

  void semver_operand(const Json& x) {
    if (x.is_string()) {
      if (!is_semver(x.get_ref<const std::string&>())) {
        report(
            "must be a semantic version MAJOR.MINOR.PATCH[-prerelease][+build] "
            "(targeting.json semVerString) or a {\"var\"} rule");
      }
      return;
    }
    if (x.is_object()) {
      const auto var = x.find("var");
      if (x.size() > (var == x.end() ? 0u : 1u)) {
        report("must be a {\"var\"} rule or a semantic version string (no other operator here)");
        return;
      }
      if (var != x.end()) {
        Push p(*this, "var");
        var_operand(*var);
      }
      return;
    }
    report("must be a semantic version string or a {\"var\"} rule");
  }

  // definitions/fractionalRule: oneOf(fractionalOp, fractionalShorthandOp), which an object or
  // an array as the first item tells apart.
  void fractional(const Json& v, std::size_t depth) {
    if (!v.is_array()) {
      report("must be an array: [bucketing rule (optional), [variant, weight], ...]");
      return;
    }
    if (v.empty()) {
      report("must have at least one item (a [variant, weight] bucket)");
      return;
    }
    std::size_t first_bucket = 0;
    if (!v[0].is_array()) {
      first_bucket = 1;
      Push p(*this, std::size_t{0});
      if (v[0].is_object()) {
        rule(v[0], depth + 1, false);
      } else {
        report(
            "must be a bucketing rule (a JSON Logic object such as {\"var\": \"email\"}) or a "
            "[variant, weight] bucket");
      }
    }
    double literal_total = 0;
    for (std::size_t i = first_bucket; i < v.size() && !full(); ++i) {
      Push p(*this, i);
      literal_total += bucket(v[i], depth + 1);
    }
    if (literal_total > kMaxTotalWeight) {
      report("bucket weights add up to more than 2147483647 (flagd's fractional limit)");
    }
  }

  // definitions/fractionalWeightArg. Returns the bucket's literal weight (1 when omitted, 0 when
  // computed or invalid) for the total-weight check.
  double bucket(const Json& b, std::size_t depth) {
    if (!b.is_array()) {
      report("must be a [variant, weight] bucket (an array of 1 or 2 items)");
      return 0;
    }
    if (b.empty() || b.size() > 2) {
      report("a bucket has 1 or 2 items ([variant] or [variant, weight]), got " +
             std::to_string(b.size()));
    }
    if (!b.empty()) {
      Push p(*this, std::size_t{0});
      arg(b[0], depth + 1);
    }
    if (b.size() == 1) return 1;
    if (b.size() != 2) return 0;
    Push p(*this, 1);
    const Json& w = b[1];
    if (w.is_object()) {
      rule(w, depth + 1, false);
      return 0;
    }
    if (is_integer_number(w)) {
      const double d = w.get<double>();
      if (d >= 0) return d;
    }
    report("must be a non-negative integer or a JSON Logic rule (fractional weight)");
    return 0;
  }

  // --- $ref ------------------------------------------------------------------------------

  static constexpr std::size_t kNoEvaluator = std::numeric_limits<std::size_t>::max();

  std::size_t path_depth() const {
    return static_cast<std::size_t>(std::count(path_.begin(), path_.end(), '/'));
  }

  // flagd substitutes every {"$ref": name} textually, wherever it appears in a rule (arrays
  // included), so each must name an evaluator; refs between evaluators are recorded for the
  // cycle check.
  void scan_refs(const Json& node, std::size_t depth, std::size_t from) {
    if (depth > kMaxDepth || full()) return;
    if (node.is_object()) {
      if (node.size() == 1 && node.begin().key() == "$ref" && node.begin()->is_string()) {
        const auto& name = node.begin()->get_ref<const std::string&>();
        Push p(*this, "$ref");
        const auto target = evaluator_ids_.find(name);
        if (target == evaluator_ids_.end()) {
          report(quote(name) + " names no $evaluators entry");
        } else if (from != kNoEvaluator) {
          edges_.push_back({from, target->second, name, path_});
        }
        return;
      }
      for (auto it = node.begin(); it != node.end() && !full(); ++it) {
        Push p(*this, it.key());
        scan_refs(it.value(), depth + 1, from);
      }
    } else if (node.is_array()) {
      for (std::size_t i = 0; i < node.size() && !full(); ++i) {
        Push p(*this, i);
        scan_refs(node[i], depth + 1, from);
      }
    }
  }

  void ref_cycles() {
    if (edges_.empty()) return;
    std::vector<std::vector<std::size_t>> adj(evaluator_ids_.size());
    for (const auto& e : edges_) adj[e.from].push_back(e.to);
    const auto comp = strongly_connected(adj);
    for (const auto& e : edges_) {
      if (comp[e.from] != comp[e.to] || full()) continue;
      const std::string saved = std::exchange(path_, e.path);
      report("$ref to " + quote(e.target) +
             " forms a cycle among $evaluators, which can never be fully expanded");
      path_ = saved;
    }
  }

  std::string path_;
  std::vector<Violation> out_;
  std::size_t bytes_ = 0;
  bool truncated_ = false;
  std::map<std::string, std::size_t, std::less<>> evaluator_ids_;
  std::vector<RefEdge> edges_;
};

// json::parse is documented not to throw; the guard keeps `fleetflag validate` answering even if
// a nlohmann exception slips through it (seen: number overflow, out_of_range.406, on "1e400").
Result<Json> parse_guarded(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    return Error{"invalid_json", e.what(), ""};
  }
}

}  // namespace

std::vector<Violation> validate(const Json& document) {
  return Validator().run(document);
}

std::vector<Violation> validate_text(std::string_view text) {
  auto parsed = parse_guarded(text);
  if (!parsed) return {Violation{"", parsed.error().to_string()}};
  return validate(*parsed);
}

}  // namespace ff::flags
