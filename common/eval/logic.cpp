#include "common/eval/logic.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/eval/ops.h"
#include "common/eval/rule_internal.h"

namespace ff::eval {

enum class Op : std::uint8_t {
  kLiteral,
  kArray,  // array literal whose elements are expressions
  kVar,
  kMissing,
  kMissingSome,
  kIf,
  kEq,
  kStrictEq,
  kNe,
  kStrictNe,
  kNot,
  kNotNot,
  kAnd,
  kOr,
  kLt,
  kLe,
  kGt,
  kGe,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kMin,
  kMax,
  kCat,
  kSubstr,
  kIn,
  kMerge,
  kMap,
  kFilter,
  kReduce,
  kAll,
  kNone,
  kSome,
  kFractional,
  kSemVer,
  kStartsWith,
  kEndsWith,
};

constexpr std::size_t kNoIndex = std::numeric_limits<std::size_t>::max();
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

// One segment of a `var` path, with what lookups need precomputed.
struct PathSeg {
  std::string name;
  // `name` read as an array index (decimal digits, no leading zero, no overflow); kNoIndex if
  // it is not one, which no array has.
  std::size_t index = kNoIndex;
  bool length = false;  // name == "length": JavaScript's String.prototype.length
};

// A constant bucket list of `fractional`, validated and summed once (flagd fractional v2).
struct Buckets {
  bool valid = false;  // false: the arguments make the operator yield null
  std::uint64_t total = 0;
  std::vector<const Json*> names;  // each bucket's variant, inside the rule's literal
  std::vector<std::uint64_t> weights;
};

// `fractional` whose bucket arguments (all after the first) are literals.
struct FractionalPlan {
  Buckets tail;  // arguments 1..n: used when the first argument is a string or null
  Buckets full;  // arguments 0..n: used when the first argument is a literal of another kind
};

// `sem_ver` whose operator and second version are literals.
struct SemVerPlan {
  bool valid = false;  // false: the operator or the version is invalid, the result is null
  SemVerOp op = SemVerOp::kEq;
  std::string text;  // owns what `version` views
  SemVerView version;
};

// `in` over a large literal array: the first index of each string element.
struct InPlan {
  std::unordered_map<std::string_view, std::size_t> first_index;
};

struct Node {  // NOLINT(bugprone-exception-escape): nlohmann's noexcept(false) ctors
  Op op = Op::kLiteral;
  // For operators written with a single non-array argument ({"var":"x"}, {"!":true}): the
  // argument is args[0] and unary is true. Some operators treat the two forms differently.
  bool unary = false;
  bool literal_truthy = false;  // kLiteral: truthy(literal)
  // kVar with a constant path: the path split on '.', and the default (args[1] if present).
  bool const_path = false;
  bool whole_data = false;  // path "" / null: the current data itself
  bool flagd_path = false;  // path begins with "$flagd" (injected, root scope only)
  // A constant path that is not $flagd and has no "length" segment: in root scope its value
  // depends on the context alone (and may be memoised, see memo_slot).
  bool plain_path = false;
  Json literal;            // kLiteral
  std::vector<Node> args;  // operands, in order
  std::vector<PathSeg> path;
  // Every operand the operator evaluates is a literal or a simple `var` (see simple_var()):
  // operand values are read directly, without evaluating them as nodes.
  bool operands_simple = false;
  // A comparison of a simple `var` with a literal.
  bool cmp_var_lit = false;
  // cmp_var_lit with a string literal under ==, ===, != or !==: a string operand compares by
  // equality (negated for the last two).
  bool cmp_string_eq = false;
  bool cmp_negate = false;
  // kVar: the path's number in a detail::PathNumbering (root-scope memo), or kNoSlot.
  std::uint32_t memo_slot = kNoSlot;
  // Set by prepare() once the tree is final; they point into literals of this tree.
  std::unique_ptr<FractionalPlan> fractional;
  std::unique_ptr<SemVerPlan> semver;
  std::unique_ptr<InPlan> in_set;
};

namespace {

const Json kNull;
const Json kTrue(true);
const Json kFalse(false);

// The string a Json holds; only for values known to be strings (get_ref's checked path is not
// inlined).
const std::string& str(const Json& j) {
  return *j.get_ptr<const std::string*>();
}

const Json& boolean(bool b) {
  return b ? kTrue : kFalse;
}

const std::unordered_map<std::string_view, Op>& op_table() {
  static const std::unordered_map<std::string_view, Op> table = {
      {"var", Op::kVar},
      {"missing", Op::kMissing},
      {"missing_some", Op::kMissingSome},
      {"if", Op::kIf},
      {"?:", Op::kIf},
      {"==", Op::kEq},
      {"===", Op::kStrictEq},
      {"!=", Op::kNe},
      {"!==", Op::kStrictNe},
      {"!", Op::kNot},
      {"!!", Op::kNotNot},
      {"and", Op::kAnd},
      {"or", Op::kOr},
      {"<", Op::kLt},
      {"<=", Op::kLe},
      {">", Op::kGt},
      {">=", Op::kGe},
      {"+", Op::kAdd},
      {"-", Op::kSub},
      {"*", Op::kMul},
      {"/", Op::kDiv},
      {"%", Op::kMod},
      {"min", Op::kMin},
      {"max", Op::kMax},
      {"cat", Op::kCat},
      {"substr", Op::kSubstr},
      {"in", Op::kIn},
      {"merge", Op::kMerge},
      {"map", Op::kMap},
      {"filter", Op::kFilter},
      {"reduce", Op::kReduce},
      {"all", Op::kAll},
      {"none", Op::kNone},
      {"some", Op::kSome},
      {"fractional", Op::kFractional},
      {"sem_ver", Op::kSemVer},
      {"starts_with", Op::kStartsWith},
      {"ends_with", Op::kEndsWith},
  };
  return table;
}

// Splits a var path as json-logic does: '.' separates, "\." is a literal dot.
std::vector<std::string> split_path(std::string_view s) {
  std::vector<std::string> parts;
  std::string cur;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '.' || s[i + 1] == '\\')) {
      cur += s[i + 1];
      ++i;
    } else if (c == '.') {
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(std::move(cur));
  return parts;
}

// An array index as JavaScript property access accepts it: canonical decimal digits.
std::size_t array_index(std::string_view seg) {
  std::size_t idx = 0;
  const auto r = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
  if (r.ec != std::errc() || r.ptr != seg.data() + seg.size() || seg.empty() ||
      (seg.size() > 1 && seg[0] == '0')) {
    return kNoIndex;
  }
  return idx;
}

std::vector<PathSeg> make_path(std::string_view text) {
  std::vector<PathSeg> path;
  for (auto& part : split_path(text)) {
    PathSeg seg;
    seg.index = array_index(part);
    seg.length = part == "length";
    seg.name = std::move(part);
    path.push_back(std::move(seg));
  }
  return path;
}

// Object key lookups through nlohmann's std::map (std::less<>, transparent): the same order
// as std::string's operator<, compared inline for the short keys contexts have (a memcmp call
// per tree level costs more than the few bytes it compares).
struct KeyRef {
  std::string_view text;
};

std::uint64_t load_be64(const char* p) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
  return w;
}

std::uint32_t load_be32(const char* p) {
  std::uint32_t w = 0;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap32(w);
  return w;
}

// Big-endian words order like their bytes compared as unsigned char; a word at the end of the
// common length may overlap bytes already known equal.
[[gnu::always_inline]] inline bool key_less(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n == 0) return a.size() < b.size();
  if (a[0] != b[0]) return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  if (n >= 8) {
    std::size_t i = 0;
    if (n <= 16) {
      const std::uint64_t x = load_be64(a.data());
      const std::uint64_t y = load_be64(b.data());
      if (x != y) return x < y;
      i = 8;
    }
    for (; i + 8 <= n; i += 8) {
      const std::uint64_t x = load_be64(a.data() + i);
      const std::uint64_t y = load_be64(b.data() + i);
      if (x != y) return x < y;
    }
    if (i < n) {
      const std::uint64_t x = load_be64(a.data() + n - 8);
      const std::uint64_t y = load_be64(b.data() + n - 8);
      if (x != y) return x < y;
    }
  } else if (n >= 4) {
    std::uint32_t x = load_be32(a.data());
    std::uint32_t y = load_be32(b.data());
    if (x != y) return x < y;
    x = load_be32(a.data() + n - 4);
    y = load_be32(b.data() + n - 4);
    if (x != y) return x < y;
  } else {
    for (std::size_t i = 1; i < n; ++i) {
      if (a[i] != b[i]) {
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
      }
    }
  }
  return a.size() < b.size();
}

[[maybe_unused, gnu::always_inline]] inline bool operator<(const std::string& a, const KeyRef& b) {
  return key_less(a, b.text);
}
[[maybe_unused, gnu::always_inline]] inline bool operator<(const KeyRef& a, const std::string& b) {
  return key_less(a.text, b);
}

const Json* find_key(const Json& object, std::string_view key) {
  const auto* obj = object.get_ptr<const Json::object_t*>();
  if (obj == nullptr) return nullptr;
  // lower_bound, then an equality test (cheaper than find's second ordering test).
  const auto it = obj->lower_bound(KeyRef{key});
  return it != obj->end() && detail::same_string(it->first, key) ? &it->second : nullptr;
}

// ---- JavaScript value semantics used by json-logic ----

bool is_js_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Number(string) in JavaScript (ASCII whitespace only).
double js_string_to_number(std::string_view s) {
  while (!s.empty() && is_js_whitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_js_whitespace(s.back())) s.remove_suffix(1);
  if (s.empty()) return 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (s.size() > 2 && s[0] == '0' && (s[1] | 0x20) != 'e' &&
      !std::isdigit(static_cast<unsigned char>(s[1])) && s[1] != '.') {
    int base = 0;
    switch (s[1] | 0x20) {
      case 'x':
        base = 16;
        break;
      case 'o':
        base = 8;
        break;
      case 'b':
        base = 2;
        break;
      default:
        return nan;
    }
    double v = 0;
    for (std::size_t i = 2; i < s.size(); ++i) {
      int d = 0;
      const char c = s[i];
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        d = (c | 0x20) - 'a' + 10;
      } else {
        return nan;
      }
      if (d >= base) return nan;
      v = v * base + d;
    }
    return v;
  }
  bool neg = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "Infinity") {
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  for (char c : body) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-')) {
      return nan;
    }
  }
  if (body.empty() || body == ".") return nan;
  double v = 0;
  const auto r = std::from_chars(body.data(), body.data() + body.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow gives Infinity in JS, underflow 0.
    const bool big = body.find_first_of("eE") != std::string_view::npos &&
                     body[body.find_first_of("eE") + 1] != '-';
    v = big ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (r.ec != std::errc() || r.ptr != body.data() + body.size()) {
    return nan;
  }
  return neg ? -v : v;
}

// ToNumber for JSON values: objects and arrays are not numbers here (json-logic-engine
// refuses them before coercing), so callers check for them first.
double to_number(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return 0;
    case Json::value_t::boolean:
      return *v.get_ptr<const Json::boolean_t*>() ? 1 : 0;
    case Json::value_t::number_integer:
      return static_cast<double>(*v.get_ptr<const Json::number_integer_t*>());
    case Json::value_t::number_unsigned:
      return static_cast<double>(*v.get_ptr<const Json::number_unsigned_t*>());
    case Json::value_t::number_float:
      return *v.get_ptr<const Json::number_float_t*>();
    case Json::value_t::string:
      return js_string_to_number(str(v));
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

// JavaScript falsiness of a primitive (objects and arrays are always truthy in JS itself).
bool js_falsy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::boolean:
      return !*v.get_ptr<const Json::boolean_t*>();
    case Json::value_t::string:
      return str(v).empty();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: {
      const double d = to_number(v);
      return d == 0 || std::isnan(d);
    }
    default:
      return false;
  }
}

// JavaScript `===` on JSON values. Objects/arrays compare by identity in JS; here two
// structured values are equal only when they are the same object in memory.
bool js_strict_equal(const Json& a, const Json& b) {
  if (a.is_string() && b.is_string()) {
    return detail::same_string(str(a), str(b));
  }
  if (a.is_number() && b.is_number()) return to_number(a) == to_number(b);
  if (a.type() != b.type()) return false;
  if (a.is_structured()) return &a == &b;
  return a == b;
}

// JavaScript `==` on primitives (null, boolean, number, string).
bool js_loose_equal(const Json& a, const Json& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.is_string() && b.is_string()) {
    return detail::same_string(str(a), str(b));
  }
  const double x = to_number(a);
  const double y = to_number(b);
  return x == y;
}

enum class Rel { kLt, kLe, kGt, kGe };

bool js_relational(const Json& a, const Json& b, Rel rel) {
  if (a.is_string() && b.is_string()) {
    const int c = str(a).compare(str(b));
    switch (rel) {
      case Rel::kLt:
        return c < 0;
      case Rel::kLe:
        return c <= 0;
      case Rel::kGt:
        return c > 0;
      case Rel::kGe:
        return c >= 0;
    }
  }
  const double x = to_number(a);
  const double y = to_number(b);
  switch (rel) {
    case Rel::kLt:
      return x < y;
    case Rel::kLe:
      return x <= y;
    case Rel::kGt:
      return x > y;
    case Rel::kGe:
      return x >= y;
  }
  return false;
}

// A string being built (cat, the `in` needle, fractional's bucketing key) that stays on the
// stack while short.
class TextBuf {
 public:
  TextBuf() = default;
  TextBuf(const TextBuf&) = delete;
  TextBuf& operator=(const TextBuf&) = delete;

  void append(std::string_view s) {
    if (!heap_used_) {
      if (size_ + s.size() <= sizeof(local_)) {
        if (!s.empty()) std::memcpy(local_ + size_, s.data(), s.size());
        size_ += s.size();
        return;
      }
      heap_.reserve(size_ + s.size());
      heap_.assign(local_, size_);
      heap_used_ = true;
    }
    heap_.append(s);
  }
  void push_back(char c) { append(std::string_view(&c, 1)); }
  std::size_t size() const { return heap_used_ ? heap_.size() : size_; }
  std::string_view view() const {
    return heap_used_ ? std::string_view(heap_) : std::string_view(local_, size_);
  }

 private:
  char local_[176];
  std::size_t size_ = 0;
  bool heap_used_ = false;
  std::string heap_;
};

// JavaScript String(v) for the values json-logic concatenates.
void append_js_string(TextBuf& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return;  // json-logic's cat skips null (Array.prototype.join semantics)
    case Json::value_t::string:
      out.append(str(v));
      return;
    case Json::value_t::boolean:
      out.append(v.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      out.append(json::variant_name(v));
      return;
    case Json::value_t::array: {
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        append_js_string(out, e);
      }
      return;
    }
    default:
      out.append("[object Object]");
      return;
  }
}

Json number_json(double d) {
  if (std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) {
    return Json(static_cast<std::int64_t>(d));
  }
  return Json(d);
}

// Decodes UTF-8 into code points (invalid bytes map to U+FFFD) for substr.
std::vector<std::uint32_t> decode_utf8(std::string_view s) {
  std::vector<std::uint32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xFFFD;
    std::size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 0x6 && i + 1 < s.size()) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      len = 2;
    } else if ((c >> 4) == 0xE && i + 2 < s.size()) {
      cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      len = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < s.size()) {
      cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      len = 4;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

// Number of code points decode_utf8 would produce, without decoding.
std::size_t utf8_length(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    if (c < 0x80) {
      len = 1;
    } else if ((c >> 5) == 0x6 && i + 1 < s.size()) {
      len = 2;
    } else if ((c >> 4) == 0xE && i + 2 < s.size()) {
      len = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < s.size()) {
      len = 4;
    }
    i += len;
  }
  return count;
}

void encode_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---- compilation ----

constexpr std::size_t kMaxCompileDepth = 200;

Node literal_node(const Json& j) {
  Node lit;
  lit.literal = j;
  lit.literal_truthy = truthy(j);
  return lit;
}

Result<Node> compile_node(const Json& j, std::size_t depth);

Result<Node> compile_array_literal(const Json& j, std::size_t depth) {
  Node n;
  n.op = Op::kArray;
  bool all_literal = true;
  for (const auto& e : j) {
    auto c = compile_node(e, depth + 1);
    if (!c) return c;
    all_literal = all_literal && c->op == Op::kLiteral;
    n.args.push_back(std::move(*c));
  }
  if (all_literal) return literal_node(j);
  return n;
}

void prepare_var(Node& n) {
  if (n.args.empty()) {
    n.const_path = true;
    n.whole_data = true;
    return;
  }
  const Node& key = n.args[0];
  if (key.op != Op::kLiteral) return;
  const Json& k = key.literal;
  std::string text;
  if (k.is_null()) {
    n.const_path = n.whole_data = true;
    return;
  }
  if (k.is_string()) {
    text = k.get<std::string>();
  } else if (k.is_number()) {
    text = json::variant_name(k);
  } else {
    return;  // evaluated at run time (and fails there)
  }
  n.const_path = true;
  if (text.empty()) {
    n.whole_data = true;
    return;
  }
  n.path = make_path(text);
  n.flagd_path = n.path[0].name == "$flagd";
  n.plain_path = !n.flagd_path && std::none_of(n.path.begin(), n.path.end(),
                                               [](const PathSeg& seg) { return seg.length; });
}

Result<Node> compile_node(const Json& j, std::size_t depth) {
  if (depth > kMaxCompileDepth) return Error{"too_deep", "rule nests too deeply", ""};
  if (j.is_array()) return compile_array_literal(j, depth);
  if (!j.is_object() || j.empty()) return literal_node(j);
  if (j.size() != 1) {
    return Error{"invalid_rule", "an operation object must have exactly one key", ""};
  }
  const auto it = j.begin();
  const auto found = op_table().find(it.key());
  if (found == op_table().end()) {
    return Error{"unknown_operator", "unknown operator '" + it.key() + "'", ""};
  }
  Node n;
  n.op = found->second;
  const Json& a = it.value();
  if (a.is_array()) {
    for (const auto& e : a) {
      auto c = compile_node(e, depth + 1);
      if (!c) return c;
      n.args.push_back(std::move(*c));
    }
  } else {
    n.unary = true;
    auto c = compile_node(a, depth + 1);
    if (!c) return c;
    n.args.push_back(std::move(*c));
  }
  switch (n.op) {
    case Op::kVar:
      prepare_var(n);
      break;
    case Op::kMap:
    case Op::kFilter:
    case Op::kAll:
    case Op::kNone:
    case Op::kSome:
    case Op::kReduce:
      if (n.unary)
        return Error{"invalid_rule", "'" + it.key() + "' needs an array of arguments", ""};
      break;
    default:
      break;
  }
  return n;
}

// Validates and sums literal buckets args[first..] as evaluation would (flagd fractional v2:
// each bucket [variant] or [variant, integral weight], total at most 2^31-1 and positive).
Buckets plan_buckets(const Node& n, std::size_t first) {
  Buckets out;
  std::uint64_t total = 0;
  for (std::size_t i = first; i < n.args.size(); ++i) {
    const Json& b = n.args[i].literal;
    if (!b.is_array() || b.empty() || b.size() > 2) return out;
    if (b[0].is_structured()) return out;
    std::uint64_t weight = 1;
    if (b.size() == 2) {
      const Json& w = b[1];
      if (!w.is_number()) return out;
      const double d = to_number(w);
      if (std::trunc(d) != d || std::isinf(d)) return out;
      if (d > 0) total += d > 4294967296.0 ? 4294967296ull : static_cast<std::uint64_t>(d);
      if (total > 2147483647ull) return out;
      weight = d > 0 ? static_cast<std::uint64_t>(d) : 0;  // d <= total here
    } else {
      total += 1;
      if (total > 2147483647ull) return out;
    }
    out.names.push_back(&b[0]);
    out.weights.push_back(weight);
  }
  if (total == 0) return out;
  out.valid = true;
  out.total = total;
  return out;
}

std::unique_ptr<FractionalPlan> plan_fractional(const Node& n) {
  if (n.args.empty()) return nullptr;
  for (std::size_t i = 1; i < n.args.size(); ++i) {
    if (n.args[i].op != Op::kLiteral) return nullptr;
  }
  auto plan = std::make_unique<FractionalPlan>();
  plan->tail = plan_buckets(n, 1);
  if (n.args[0].op == Op::kLiteral) plan->full = plan_buckets(n, 0);
  return plan;
}

std::unique_ptr<SemVerPlan> plan_semver(const Node& n) {
  if (n.unary || n.args.size() != 3 || n.args[1].op != Op::kLiteral ||
      n.args[2].op != Op::kLiteral) {
    return nullptr;
  }
  auto plan = std::make_unique<SemVerPlan>();
  const Json& op = n.args[1].literal;
  const Json& version = n.args[2].literal;
  if (!op.is_string()) return plan;
  const auto code = parse_semver_op(str(op));
  if (!code) return plan;
  plan->op = *code;
  // sem_ver operands are formatted like fmt's %v: strings as-is, numbers shortest.
  if (version.is_string()) {
    plan->text = str(version);
  } else if (version.is_number()) {
    plan->text = json::variant_name(version);
  } else {
    return plan;
  }
  plan->valid = parse_semver(plan->text, plan->version);
  return plan;
}

// Below this many elements a linear scan is as fast as hashing.
constexpr std::size_t kInPlanMinSize = 8;

std::unique_ptr<InPlan> plan_in(const Node& n) {
  if (n.args.size() < 2 || n.args[1].op != Op::kLiteral) return nullptr;
  const Json& hay = n.args[1].literal;
  if (!hay.is_array() || hay.size() < kInPlanMinSize) return nullptr;
  auto plan = std::make_unique<InPlan>();
  for (std::size_t i = 0; i < hay.size(); ++i) {
    if (hay[i].is_string()) plan->first_index.emplace(str(hay[i]), i);
  }
  return plan;
}

// A `var` whose value is the data itself or a plain path, without default.
bool simple_var(const Node& n) {
  return n.op == Op::kVar && n.args.size() <= 1 && (n.whole_data || n.plain_path);
}

bool simple_operand(const Node& n) {
  return n.op == Op::kLiteral || simple_var(n);
}

// Precomputes operator data once the tree no longer moves (plans point into its literals).
void prepare(Node& n) {
  for (auto& a : n.args) prepare(a);
  const bool all_simple = std::all_of(n.args.begin(), n.args.end(), simple_operand);
  switch (n.op) {
    case Op::kIn:
    case Op::kStartsWith:
    case Op::kEndsWith:
      n.operands_simple = !n.unary && n.args.size() == 2 && all_simple;
      break;
    case Op::kSemVer:
      n.operands_simple = !n.unary && n.args.size() == 3 && all_simple;
      break;
    default:
      break;
  }
  switch (n.op) {
    case Op::kEq:
    case Op::kStrictEq:
    case Op::kNe:
    case Op::kStrictNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
      n.cmp_var_lit = n.args.size() == 2 && simple_var(n.args[0]) && n.args[1].op == Op::kLiteral;
      n.cmp_string_eq = n.cmp_var_lit && n.args[1].literal.is_string() && n.op != Op::kLt &&
                        n.op != Op::kLe && n.op != Op::kGt && n.op != Op::kGe;
      n.cmp_negate = n.op == Op::kNe || n.op == Op::kStrictNe;
      break;
    case Op::kFractional:
      n.fractional = plan_fractional(n);
      break;
    case Op::kSemVer:
      n.semver = plan_semver(n);
      break;
    case Op::kIn:
      n.in_set = plan_in(n);
      break;
    default:
      break;
  }
}

void visit_constants(const Json& j, Rule::ConstantVisitor fn, void* user) {
  if (j.is_structured()) {
    for (const auto& e : j) visit_constants(e, fn, user);
  } else if (!j.is_null() && !j.is_binary()) {
    fn(j, user);
  }
}

void visit_constants(const Node& n, Rule::ConstantVisitor fn, void* user) {
  if (n.op == Op::kLiteral) visit_constants(n.literal, fn, user);
  for (const auto& a : n.args) visit_constants(a, fn, user);
}

// ---- evaluation ----
//
// Every operator returns a reference to its value. Borrowed values (the rule's constants, the
// caller's context, the static true/false/null) are returned as they are; a value an operator
// builds is placed in the `out` slot its caller provides and the reference points there. The
// hot path (constant paths, comparisons, literals, flagd operators on constants) therefore
// neither copies nor allocates JSON.

using Slot = std::optional<Json>;

// The value `v` (a reference obtained together with `slot`) as an independent Json.
Json take(const Json& v, Slot& slot) {
  if (slot && &v == &*slot) return std::move(*slot);
  return v;
}

const Json& empty_array() {
  static const Json empty = Json::array();
  return empty;
}

struct Scope {
  const Json* data;
  bool root;  // $flagd.* resolves only against the evaluation's root data
};

class Evaluator {
 public:
  Evaluator(const Json& context, const Env& env, const EvalLimits& limits,
            detail::PathMemo* memo = nullptr)
      : context_(context),
        env_(env),
        limits_(limits),
        memo_(memo),
        budget_(static_cast<std::int64_t>(
            std::min<std::uint64_t>(limits.max_steps, std::numeric_limits<std::int64_t>::max()))) {}

  const Json& run(const Node& n, Slot& out) {
    const Scope root{&context_, true};
    if (n.op == Op::kIf) return step() ? eval_if(n, root, out) : kNull;  // the usual root
    return eval(n, root, out);
  }
  bool failed() const { return failed_; }
  const char* error() const { return error_; }

 private:
  const Json& fail(const char* message) {
    if (!failed_) {
      failed_ = true;
      error_ = message;
    }
    return kNull;
  }

  // Charges `n` units of work (one per operator application or array element visited).
  bool step(std::uint64_t n = 1) {
    budget_ -= static_cast<std::int64_t>(n);
    if (budget_ < 0) {
      fail("evaluation exceeded its work budget");
      return false;
    }
    return true;
  }

  const Json& flagd_object() {
    Slot& v = lazy().flagd;
    if (!v) v.emplace(Json{{"flagKey", env_.flag_key}, {"timestamp", env_.timestamp}});
    return *v;
  }

  const Json& flagd_flag_key() {
    if (env_.flag_key_json != nullptr) return *env_.flag_key_json;
    Slot& v = lazy().flag_key;
    if (!v) v.emplace(env_.flag_key);
    return *v;
  }

  const Json& flagd_timestamp() {
    Slot& v = lazy().timestamp;
    if (!v) v.emplace(env_.timestamp);
    return *v;
  }

  const Json& root_with_flagd() {
    Slot& v = lazy().root;
    if (!v) {
      v.emplace(context_.is_object() ? context_ : Json::object());
      (*v)["$flagd"] = flagd_object();
    }
    return *v;
  }

  static const Json* child(const Json* cur, const PathSeg& seg) {
    if (cur->is_object()) return find_key(*cur, seg.name);
    if (const auto* arr = cur->get_ptr<const Json::array_t*>()) {
      return seg.index < arr->size() ? &(*arr)[seg.index] : nullptr;
    }
    return nullptr;
  }

  // Looks a path up in the scope. Returns nullptr when absent. A computed value (a string's
  // length) is placed in `holder`.
  const Json* lookup(const std::vector<PathSeg>& path, bool flagd_path, const Scope& scope,
                     Slot& holder) {
    const Json* cur = scope.data;
    std::size_t i = 0;
    if (scope.root) {
      if (path.size() == 1 && !flagd_path) return find_key(context_, path[0].name);
      if (flagd_path) {
        // The injected {"flagKey", "timestamp"} object, without building it for its members.
        if (path.size() == 1) return &flagd_object();
        const std::string& member = path[1].name;
        if (member == "flagKey") {
          cur = &flagd_flag_key();
        } else if (member == "timestamp") {
          cur = &flagd_timestamp();
        } else {
          return nullptr;
        }
        i = 2;
      } else if (!context_.is_object()) {
        return nullptr;
      }
    }
    for (; i < path.size(); ++i) {
      if (path[i].length && cur->is_string()) {
        // JavaScript strings expose .length (UTF-16 units; code points here).
        holder.emplace(utf8_length(str(*cur)));
        return i + 1 == path.size() ? &*holder : nullptr;
      }
      cur = child(cur, path[i]);
      if (cur == nullptr) return nullptr;
    }
    return cur;
  }

  // The value of a plain path (Node::plain_path) in the root context, or nullptr: lookup()
  // without its $flagd and "length" cases, memoised when the rule's paths are numbered.
  const Json* plain_lookup(const Node& n) {
    if (memo_ != nullptr && n.memo_slot != kNoSlot) {
      const Json* known = (*memo_)[n.memo_slot];
      if (known != nullptr) return known;
      const Json* found = walk_root(n.path);
      (*memo_)[n.memo_slot] = found != nullptr ? found : &kNull;
      return found;
    }
    return walk_root(n.path);
  }

  // The value of a simple_var() node (without charging work for it).
  [[gnu::always_inline]] const Json& simple_var_value(const Node& var, const Scope& scope) {
    if (var.whole_data) return scope.root ? root_with_flagd() : *scope.data;
    const Json* found = scope.root ? plain_lookup(var) : walk(*scope.data, var.path);
    return found != nullptr ? *found : kNull;
  }

  // The value of a simple_operand() node (without charging work for it).
  [[gnu::always_inline]] const Json& simple_value(const Node& n, const Scope& scope) {
    return n.op == Op::kLiteral ? n.literal : simple_var_value(n, scope);
  }

  [[gnu::noinline]] static const Json* walk(const Json& data, const std::vector<PathSeg>& path) {
    const Json* cur = &data;
    for (const auto& seg : path) {
      cur = child(cur, seg);
      if (cur == nullptr) return nullptr;
    }
    return cur;
  }

  // A plain path from the root context (lookup() for plain paths in root scope).
  [[gnu::always_inline]] const Json* walk_root(const std::vector<PathSeg>& path) {
    if (path.size() == 1) return find_key(context_, path[0].name);
    return walk_root_deep(path);
  }

  [[gnu::noinline]] const Json* walk_root_deep(const std::vector<PathSeg>& path) {
    return context_.is_object() ? walk(context_, path) : nullptr;
  }

  // `var`'s default, once its path found nothing or null.
  [[gnu::noinline]] const Json& eval_default(const Node& var, const Scope& scope, Slot& out) {
    return eval(var.args[1], scope, out);
  }

  [[gnu::noinline]] const Json& eval_var(const Node& n, const Scope& scope, Slot& out) {
    const Json* found = nullptr;
    if (n.const_path) {
      if (n.whole_data) return scope.root ? root_with_flagd() : *scope.data;
      found = lookup(n.path, n.flagd_path, scope, out);
    } else {
      Slot key_slot;
      const Json& k = eval(n.args[0], scope, key_slot);
      if (failed_) return kNull;
      if (k.is_null() || (k.is_string() && str(k).empty())) {
        return scope.root ? root_with_flagd() : *scope.data;
      }
      if (!k.is_string() && !k.is_number()) return fail("var needs a string or number path");
      const auto path = make_path(json::variant_name(k));
      found = lookup(path, path[0].name == "$flagd", scope, out);
    }
    // json-logic-engine's compiled var uses `??`: a null value also falls back to the default.
    if (found == nullptr || found->is_null()) {
      if (n.args.size() >= 2) return eval(n.args[1], scope, out);
      return kNull;
    }
    return *found;
  }

  // The evaluated operand list as JSON (operators whose arguments are evaluated eagerly).
  // For the unary form the single argument's value is returned as is.
  const Json& eval_data(const Node& n, const Scope& scope, Slot& out) {
    if (n.unary) return eval(n.args[0], scope, out);
    Json arr = Json::array();
    for (const auto& a : n.args) {
      Slot s;
      const Json& v = eval(a, scope, s);
      if (failed_) return kNull;
      arr.push_back(take(v, s));
    }
    return out.emplace(std::move(arr));
  }

  // One comparison of a pair of values.
  [[gnu::noinline]] static bool compare_values(Op op, const Json& a, const Json& b) {
    if (a.is_string() && b.is_string()) {
      const std::string& x = str(a);
      const std::string& y = str(b);
      switch (op) {
        case Op::kEq:
        case Op::kStrictEq:
          return detail::same_string(x, y);
        case Op::kNe:
        case Op::kStrictNe:
          return !detail::same_string(x, y);
        case Op::kLt:
          return x < y;
        case Op::kLe:
          return x <= y;
        case Op::kGt:
          return x > y;
        default:
          return x >= y;
      }
    }
    if (a.is_number() && b.is_number()) {
      // Numbers compare as doubles under every operator (js_strict_equal, js_loose_equal and
      // js_relational agree on them).
      const double x = to_number(a);
      const double y = to_number(b);
      switch (op) {
        case Op::kEq:
        case Op::kStrictEq:
          return x == y;
        case Op::kNe:
        case Op::kStrictNe:
          return x != y;
        case Op::kLt:
          return x < y;
        case Op::kLe:
          return x <= y;
        case Op::kGt:
          return x > y;
        default:
          return x >= y;
      }
    }
    switch (op) {
      case Op::kStrictEq:
        return js_strict_equal(a, b);
      case Op::kStrictNe:
        return !js_strict_equal(a, b);
      default:
        break;
    }
    // flagd Go (diegoholiveira/jsonlogic) semantics, the reference: an object or array equals
    // nothing and orders with nothing (`!=` holds); null equals only null; a string that is
    // not a number compared with a number is simply false. flagd-core throws for some of these
    // depending on operand order (tests/diff/README.md), so it cannot be the guide here.
    if (a.is_structured() || b.is_structured()) return op == Op::kNe;
    switch (op) {
      case Op::kEq:
        return js_loose_equal(a, b);
      case Op::kNe:
        return !js_loose_equal(a, b);
      case Op::kLt:
        return js_relational(a, b, Rel::kLt);
      case Op::kLe:
        return js_relational(a, b, Rel::kLe);
      case Op::kGt:
        return js_relational(a, b, Rel::kGt);
      case Op::kGe:
        return js_relational(a, b, Rel::kGe);
      default:
        return false;
    }
  }

  // Comparison operators, evaluated to their boolean result (false after a failure). With
  // more than two operands every adjacent pair must hold ("between"); evaluation stops at the
  // first pair that does not.
  [[gnu::always_inline]] bool compare(const Node& n, const Scope& scope) {
    if (n.cmp_var_lit) {
      // Both operand nodes are charged up front: neither has side effects to order.
      if (!step(2)) return false;
      const Json& a = simple_var_value(n.args[0], scope);
      if (n.cmp_string_eq) {
        if (const auto* text = a.get_ptr<const std::string*>()) {
          return detail::same_string(*text, str(n.args[1].literal)) != n.cmp_negate;
        }
      }
      return compare_values(n.op, a, n.args[1].literal);
    }
    return compare_general(n, scope);
  }

  [[gnu::noinline]] bool compare_general(const Node& n, const Scope& scope) {
    const std::size_t count = n.args.size();
    if (count == 2) {
      Slot sa;
      Slot sb;
      const Json& a = eval(n.args[0], scope, sa);
      if (failed_) return false;
      const Json& b = eval(n.args[1], scope, sb);
      return !failed_ && compare_values(n.op, a, b);
    }
    if (count < 2) {
      fail("comparison needs at least two arguments");
      return false;
    }
    Slot slots[2];
    std::size_t prev_slot = 0;
    const Json* prev = &eval(n.args[0], scope, slots[0]);
    if (failed_) return false;
    for (std::size_t i = 1; i < count; ++i) {
      const Json& cur = eval(n.args[i], scope, slots[prev_slot ^ 1]);
      if (failed_) return false;
      if (!compare_values(n.op, *prev, cur)) return false;
      prev = &cur;
      prev_slot ^= 1;
    }
    return true;
  }

  // json-logic truthiness of `n`'s value, without materialising booleans the operator
  // computes (conditions of `if`, operands of `!`, `and`/`or` under them, iteration tests).
  // Charges the same work as eval().
  [[gnu::always_inline]] bool test(const Node& n, const Scope& scope) {
    switch (n.op) {
      case Op::kLiteral:
        return step() && n.literal_truthy;
      case Op::kEq:
      case Op::kStrictEq:
      case Op::kNe:
      case Op::kStrictNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        return step() && compare(n, scope);
      case Op::kNot:
      case Op::kNotNot:
        return step() && test_not(n, scope);
      case Op::kAnd:
      case Op::kOr:
        return step() && test_logic(n, scope);
      case Op::kIn:
        return step() && in(n, scope);
      case Op::kSemVer:
      case Op::kStartsWith:
      case Op::kEndsWith:
        return step() && custom(n, scope).value_or(false);
      default:
        return test_value(n, scope);
    }
  }

  [[gnu::noinline]] bool test_not(const Node& n, const Scope& scope) {
    bool t = false;
    if (!n.args.empty()) {
      t = test(n.args[0], scope);
      if (failed_) return false;
    }
    return n.op == Op::kNot ? !t : t;
  }

  // The truthiness of the operand `and`/`or` would return.
  [[gnu::noinline]] bool test_logic(const Node& n, const Scope& scope) {
    bool t = false;
    for (const auto& a : n.args) {
      t = test(a, scope);
      if (failed_) return false;
      if (n.op == Op::kAnd ? !t : t) return t;
    }
    return t;
  }

  [[gnu::noinline]] bool test_value(const Node& n, const Scope& scope) {
    Slot s;
    const Json& v = eval(n, scope, s);
    return !failed_ && truthy(v);
  }

  [[gnu::noinline]] const Json& eval_arith(const Node& n, const Scope& scope, Slot& out) {
    Slot data_slot;
    const Json& d = eval_data(n, scope, data_slot);
    if (failed_) return kNull;
    auto num = [&](const Json& v, double& x) {
      if (v.is_structured()) return false;
      x = to_number(v);
      return !std::isnan(x);
    };
    double res = 0;
    if (!d.is_array()) {
      if (d.is_object() && !d.empty()) return fail("arithmetic on an object");
      double x = 0;
      if (!num(d, x)) return fail("arithmetic operand is not a number");
      switch (n.op) {
        case Op::kAdd:
          return out.emplace(number_json(x));
        case Op::kSub:
          return out.emplace(number_json(-x));
        case Op::kMul:
          return out.emplace(number_json(x));
        case Op::kDiv:
          if (x == 0) return fail("division by zero");
          return out.emplace(number_json(1 / x));
        default:
          return fail("'%' needs two arguments");
      }
    }
    const std::size_t count = d.size();
    switch (n.op) {
      case Op::kAdd:
        res = 0;
        for (const auto& v : d) {
          double x = 0;
          if (!num(v, x)) return fail("'+' operand is not a number");
          res += x;
        }
        break;
      case Op::kMul:
        res = 1;
        for (const auto& v : d) {
          double x = 0;
          if (!num(v, x)) return fail("'*' operand is not a number");
          res *= x;
        }
        break;
      case Op::kSub:
      case Op::kDiv:
      case Op::kMod: {
        if (count == 0 || (n.op == Op::kMod && count < 2)) return fail("missing operands");
        double first = 0;
        if (!num(d[0], first)) return fail("operand is not a number");
        if (count == 1) {
          if (n.op == Op::kSub) return out.emplace(number_json(-first));
          if (first == 0) return fail("division by zero");
          return out.emplace(number_json(1 / first));
        }
        res = first;
        for (std::size_t i = 1; i < count; ++i) {
          double x = 0;
          if (!num(d[i], x)) return fail("operand is not a number");
          if (n.op == Op::kSub) {
            res -= x;
          } else if (n.op == Op::kDiv) {
            if (x == 0) return fail("division by zero");
            res /= x;
          } else {
            res = std::fmod(res, x);
          }
        }
        break;
      }
      default:
        break;
    }
    if (std::isnan(res) || std::isinf(res)) return fail("arithmetic result is not a finite number");
    return out.emplace(number_json(res));
  }

  [[gnu::noinline]] const Json& eval_minmax(const Node& n, const Scope& scope, Slot& out) {
    Slot data_slot;
    const Json& d = eval_data(n, scope, data_slot);
    if (failed_) return kNull;
    if (!d.is_array() || d.empty()) return fail("min/max need at least one number");
    double best = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (!d[i].is_number()) return fail("min/max take numbers only");
      const double x = to_number(d[i]);
      if (i == 0 || (n.op == Op::kMax ? x > best : x < best)) best = x;
    }
    return out.emplace(number_json(best));
  }

  // Appends cat's operands to `out`. False after a failure.
  bool cat_into(const Node& n, const Scope& scope, TextBuf& out) {
    for (const auto& a : n.args) {
      Slot s;
      const Json& v = eval(a, scope, s);
      if (failed_) return false;
      append_js_string(out, v);
      if (out.size() > limits_.max_build) {
        fail("cat result too large");
        return false;
      }
    }
    return true;
  }

  [[gnu::noinline]] const Json& eval_cat(const Node& n, const Scope& scope, Slot& out) {
    TextBuf text;
    if (!cat_into(n, scope, text)) return kNull;
    return out.emplace(std::string(text.view()));
  }

  [[gnu::noinline]] const Json& eval_substr(const Node& n, const Scope& scope, Slot& out) {
    if (n.args.empty()) return fail("substr needs a string");
    std::vector<Slot> slots(n.args.size());
    std::vector<const Json*> v;
    v.reserve(n.args.size());
    for (std::size_t i = 0; i < n.args.size(); ++i) {
      v.push_back(&eval(n.args[i], scope, slots[i]));
      if (failed_) return kNull;
    }
    const Json& s = *v[0];
    if (!s.is_string()) return fail("substr needs a string");
    const auto cps = decode_utf8(str(s));
    const auto len = static_cast<std::int64_t>(cps.size());
    auto to_int = [](const Json& j) -> std::int64_t {
      double d = to_number(j);
      if (std::isnan(d)) return 0;
      d = std::trunc(d);
      if (d > 1e15) return static_cast<std::int64_t>(1e15);
      if (d < -1e15) return static_cast<std::int64_t>(-1e15);
      return static_cast<std::int64_t>(d);
    };
    std::int64_t from = v.size() > 1 ? to_int(*v[1]) : 0;
    if (from < 0) from = std::max<std::int64_t>(0, len + from);
    from = std::min(from, len);
    std::int64_t end = len;
    if (v.size() > 2 && !v[2]->is_null()) {
      const std::int64_t count = to_int(*v[2]);
      end = count < 0 ? std::max(from, len + count) : std::min(len, from + count);
    }
    std::string text;
    for (std::int64_t i = from; i < end; ++i) encode_utf8(text, cps[static_cast<std::size_t>(i)]);
    return out.emplace(std::move(text));
  }

  // `in`, evaluated to its boolean result (false after a failure).
  bool in(const Node& n, const Scope& scope) {
    if (n.operands_simple) {
      // Both operands charged up front: reading them has no effect to order.
      if (!step(2)) return false;
      return in_values(n, simple_value(n.args[0], scope), simple_value(n.args[1], scope));
    }
    if (n.args.size() < 2) return false;
    Slot item_slot;
    Slot hay_slot;
    const Json& x = eval(n.args[0], scope, item_slot);
    if (failed_) return false;
    const Json& h = eval(n.args[1], scope, hay_slot);
    if (failed_) return false;
    return in_values(n, x, h);
  }

  // `in` on its evaluated operands: `x` in the array or string `h`.
  bool in_values(const Node& n, const Json& x, const Json& h) {
    if (const auto* arr = h.get_ptr<const Json::array_t*>()) {
      if (const auto* needle = x.get_ptr<const std::string*>()) {
        // A string equals (===) only an equal string. Work is charged per element visited.
        if (n.in_set) {
          const auto& index = n.in_set->first_index;
          const auto it = index.find(*needle);
          if (it == index.end()) {
            step(arr->size());
            return false;
          }
          return step(it->second + 1);
        }
        for (const auto& e : *arr) {
          if (!step()) return false;
          const auto* s = e.get_ptr<const std::string*>();
          if (s != nullptr && detail::same_string(*s, *needle)) return true;
        }
        return false;
      }
      for (const auto& e : *arr) {
        if (!step()) return false;
        if (js_strict_equal(e, x)) return true;
      }
      return false;
    }
    if (const auto* hay = h.get_ptr<const std::string*>()) {
      if (const auto* needle = x.get_ptr<const std::string*>()) {
        return hay->find(*needle) != std::string::npos;
      }
      TextBuf needle;
      if (x.is_null()) {
        needle.append("null");
      } else if (x.is_structured()) {
        fail("'in' on a string needs a primitive");
        return false;
      } else {
        append_js_string(needle, x);
      }
      return std::string_view(*hay).find(needle.view()) != std::string_view::npos;
    }
    if (js_falsy(h)) return false;
    fail("'in' needs an array or a string");
    return false;
  }

  [[gnu::noinline]] const Json& eval_merge(const Node& n, const Scope& scope, Slot& out) {
    Json arr = Json::array();
    for (const auto& a : n.args) {
      Slot s;
      const Json& j = eval(a, scope, s);
      if (failed_) return kNull;
      if (j.is_array()) {
        for (const auto& e : j) arr.push_back(e);
      } else {
        arr.push_back(j);
      }
      if (arr.size() > limits_.max_build) return fail("merge result too large");
    }
    return out.emplace(std::move(arr));
  }

  // Evaluates the array operand of map/filter/reduce/all/none/some. Falsy values are treated
  // as an empty array; other non-arrays fail. nullptr after a failure.
  const Json* iterable(const Node& n, const Scope& scope, Slot& slot) {
    const Json& j = eval(n.args[0], scope, slot);
    if (failed_) return nullptr;
    if (j.is_array()) return &j;
    if (js_falsy(j) || (j.is_object() && j.empty())) return &empty_array();
    fail("expected an array");
    return nullptr;
  }

  [[gnu::noinline]] const Json& eval_iter(const Node& n, const Scope& scope, Slot& out) {
    // Every iteration operator needs its array operand (`reduce` alone may omit the body).
    if (n.args.empty()) return fail("missing array operand");
    Slot arr_slot;
    const Json* arr = iterable(n, scope, arr_slot);
    if (arr == nullptr) return kNull;
    const Json& a = *arr;
    if (!step(a.size())) return kNull;
    const Node* body = n.args.size() > 1 ? &n.args[1] : nullptr;
    // The body's truthiness for one element; an absent body yields null.
    auto holds = [&](const Json& elem) {
      return body != nullptr && test(*body, Scope{&elem, false});
    };
    switch (n.op) {
      case Op::kMap: {
        Json result = Json::array();
        for (const auto& e : a) {
          if (body == nullptr) {
            result.push_back(nullptr);
            continue;
          }
          Slot r;
          const Json& v = eval(*body, Scope{&e, false}, r);
          if (failed_) return kNull;
          result.push_back(take(v, r));
        }
        return out.emplace(std::move(result));
      }
      case Op::kFilter: {
        Json result = Json::array();
        for (const auto& e : a) {
          const bool keep = holds(e);
          if (failed_) return kNull;
          if (keep) result.push_back(e);
        }
        return out.emplace(std::move(result));
      }
      case Op::kAll: {
        if (a.empty()) return kFalse;
        for (const auto& e : a) {
          const bool t = holds(e);
          if (failed_) return kNull;
          if (!t) return kFalse;
        }
        return kTrue;
      }
      case Op::kSome:
      case Op::kNone: {
        bool any = false;
        for (const auto& e : a) {
          const bool t = holds(e);
          if (failed_) return kNull;
          if (t) {
            any = true;
            break;
          }
        }
        return boolean(n.op == Op::kSome ? any : !any);
      }
      case Op::kReduce: {
        std::size_t start = 0;
        Json acc;
        if (n.args.size() > 2) {
          Slot init;
          const Json& v = eval(n.args[2], scope, init);
          if (failed_) return kNull;
          acc = take(v, init);
        } else {
          if (a.empty()) return fail("reduce of an empty array with no initial value");
          acc = a[0];
          start = 1;
        }
        for (std::size_t i = start; i < a.size(); ++i) {
          Json frame = Json::object();
          frame["current"] = a[i];
          frame["accumulator"] = std::move(acc);
          if (body == nullptr) {
            acc = nullptr;
            continue;
          }
          Slot r;
          const Json& v = eval(*body, Scope{&frame, false}, r);
          if (failed_) return kNull;
          acc = take(v, r);
          if (acc.is_structured() && acc.size() > limits_.max_build) {
            return fail("reduce result too large");
          }
        }
        return out.emplace(std::move(acc));
      }
      default:
        return fail("internal: not an iteration");
    }
  }

  [[gnu::noinline]] const Json& eval_missing(const Node& n, const Scope& scope, Slot& out) {
    if (n.op == Op::kMissingSome) {
      if (n.args.size() < 2) return fail("missing_some needs [count, keys]");
      Slot need_slot;
      Slot keys_slot;
      const Json& need = eval(n.args[0], scope, need_slot);
      if (failed_) return kNull;
      const Json& keys = eval(n.args[1], scope, keys_slot);
      if (failed_) return kNull;
      if (!keys.is_array()) return fail("missing_some needs an array of keys");
      Json missing = collect_missing(keys, scope);
      if (failed_) return kNull;
      const double needed = to_number(need);
      if (static_cast<double>(keys.size() - missing.size()) >= needed) {
        return out.emplace(Json::array());
      }
      return out.emplace(std::move(missing));
    }
    // {"missing": X} where X evaluates to an array uses that array as the key list.
    if (n.args.size() == 1) {
      Slot keys_slot;
      const Json& keys = eval(n.args[0], scope, keys_slot);
      if (failed_) return kNull;
      Json missing = keys.is_array() ? collect_missing(keys, scope)
                                     : collect_missing(Json::array({keys}), scope);
      if (failed_) return kNull;
      return out.emplace(std::move(missing));
    }
    Json keys = Json::array();
    for (const auto& a : n.args) {
      Slot s;
      const Json& v = eval(a, scope, s);
      if (failed_) return kNull;
      keys.push_back(take(v, s));
    }
    Json missing = collect_missing(keys, scope);
    if (failed_) return kNull;
    return out.emplace(std::move(missing));
  }

  Json collect_missing(const Json& keys, const Scope& scope) {
    Json missing = Json::array();
    for (const auto& k : keys) {
      if (!step()) return missing;
      if (k.is_structured()) {
        missing.push_back(k);
        continue;
      }
      Slot holder;
      const auto path = make_path(k.is_string() ? k.get<std::string>() : json::variant_name(k));
      const Json* found = lookup(path, path[0].name == "$flagd", scope, holder);
      if (found == nullptr) missing.push_back(k);
    }
    return missing;
  }

  // The context's targetingKey (path number 0 in the memo), or nullptr.
  const Json* targeting_key() {
    if (memo_ == nullptr) return find_key(context_, "targetingKey");
    const Json*& known = (*memo_)[0];
    if (known == nullptr) {
      const Json* found = find_key(context_, "targetingKey");
      known = found != nullptr ? found : &kNull;
    }
    return known;
  }

  // The bucket `bucket_by` (or flagKey + targetingKey when `by_key`) falls in.
  const Json& pick_bucket(const Buckets& b, bool by_key, std::string_view bucket_by) {
    if (!b.valid) return kNull;
    std::uint32_t hash = 0;
    if (by_key) {
      const Json* tk = targeting_key();
      const auto* key = tk != nullptr ? tk->get_ptr<const std::string*>() : nullptr;
      if (key == nullptr || key->empty()) return kNull;
      hash = murmur3_x86_32_concat(env_.flag_key, *key);
    } else {
      hash = murmur3_x86_32(bucket_by);
    }
    const std::uint64_t bucket = fractional_bucket(hash, b.total);
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < b.weights.size(); ++i) {
      sum += b.weights[i];
      if (sum > bucket) return *b.names[i];
    }
    return kNull;
  }

  // flagd fractional v2 over evaluated arguments: the index in `v` of the chosen bucket, or
  // kNoIndex when the result is null.
  std::size_t fractional_pick(const std::vector<const Json*>& v) {
    if (v.empty()) return kNoIndex;
    std::size_t first_bucket = 0;
    const std::string* key = nullptr;  // targetingKey, when bucketing on flagKey + it
    std::string_view bucket_by;
    const Json& a0 = *v[0];
    if (const auto* s = a0.get_ptr<const std::string*>()) {
      bucket_by = *s;
      first_bucket = 1;
    } else {
      if (a0.is_null()) first_bucket = 1;  // flagd v2: a null bucketing value is dropped
      const Json* tk = targeting_key();
      key = tk != nullptr ? tk->get_ptr<const std::string*>() : nullptr;
      if (key == nullptr || key->empty()) return kNoIndex;
    }
    std::uint64_t total = 0;
    for (std::size_t i = first_bucket; i < v.size(); ++i) {
      const Json& b = *v[i];
      if (!b.is_array() || b.empty() || b.size() > 2) return kNoIndex;
      const Json& variant = b[0];
      if (variant.is_structured()) return kNoIndex;
      if (b.size() == 2) {
        const Json& w = b[1];
        if (!w.is_number()) return kNoIndex;
        const double d = to_number(w);
        if (std::trunc(d) != d || std::isinf(d)) return kNoIndex;
        if (d > 0) total += d > 4294967296.0 ? 4294967296ull : static_cast<std::uint64_t>(d);
      } else {
        total += 1;
      }
      if (total > 2147483647ull) return kNoIndex;
    }
    if (total == 0) return kNoIndex;
    const std::uint32_t hash =
        key != nullptr ? murmur3_x86_32_concat(env_.flag_key, *key) : murmur3_x86_32(bucket_by);
    const std::uint64_t bucket = fractional_bucket(hash, total);
    std::uint64_t sum = 0;
    for (std::size_t i = first_bucket; i < v.size(); ++i) {
      const Json& b = *v[i];
      std::uint64_t w = 1;
      if (b.size() == 2) {
        const double d = to_number(b[1]);
        w = d > 0 ? static_cast<std::uint64_t>(d) : 0;
      }
      sum += w;
      if (sum > bucket) return i;
    }
    return kNoIndex;
  }

  // fractional with constant buckets whose bucketing value is a cat: always a string, hashed
  // without building a JSON string.
  [[gnu::noinline]] const Json& fractional_by_cat(const Node& n, const FractionalPlan& plan,
                                                  const Scope& scope) {
    if (!step()) return kNull;
    TextBuf text;
    if (!cat_into(n.args[0], scope, text)) return kNull;
    if (!step(n.args.size() - 1)) return kNull;
    return pick_bucket(plan.tail, false, text.view());
  }

  [[gnu::noinline]] const Json& eval_fractional(const Node& n, const Scope& scope, Slot& out) {
    if (n.args.empty()) return kNull;
    const Node& a0 = n.args[0];
    if (const FractionalPlan* plan = n.fractional.get()) {
      const std::size_t rest = n.args.size() - 1;
      if (a0.op == Op::kLiteral) {
        if (!step(n.args.size())) return kNull;
        if (const auto* s = a0.literal.get_ptr<const std::string*>()) {
          return pick_bucket(plan->tail, false, *s);
        }
        if (a0.literal.is_null()) return pick_bucket(plan->tail, true, {});
        return pick_bucket(plan->full, true, {});
      }
      if (a0.op == Op::kCat) return fractional_by_cat(n, *plan, scope);
      Slot s0;
      const Json& v0 = eval(a0, scope, s0);
      if (failed_) return kNull;
      if (!step(rest)) return kNull;
      if (const auto* s = v0.get_ptr<const std::string*>()) {
        return pick_bucket(plan->tail, false, *s);
      }
      if (v0.is_null()) return pick_bucket(plan->tail, true, {});
      // The first argument computed a bucket: the general path over the values.
      std::vector<const Json*> v{&v0};
      for (std::size_t i = 1; i < n.args.size(); ++i) v.push_back(&n.args[i].literal);
      const std::size_t i = fractional_pick(v);
      if (i == kNoIndex) return kNull;
      const Json& name = (*v[i])[0];
      if (i == 0 && s0 && &v0 == &*s0) return out.emplace(name);
      return name;
    }
    std::vector<Slot> slots(n.args.size());
    std::vector<const Json*> v;
    v.reserve(n.args.size());
    for (std::size_t i = 0; i < n.args.size(); ++i) {
      v.push_back(&eval(n.args[i], scope, slots[i]));
      if (failed_) return kNull;
    }
    const std::size_t i = fractional_pick(v);
    if (i == kNoIndex) return kNull;
    const Json& name = (*v[i])[0];
    if (slots[i] && v[i] == &*slots[i]) return out.emplace(name);
    return name;
  }

  // sem_ver with a constant operator and version, on the evaluated first operand.
  static std::optional<bool> sem_ver_planned(const SemVerPlan& plan, const Json& version) {
    if (!plan.valid) return std::nullopt;
    SemVerView a;
    if (const auto* s = version.get_ptr<const std::string*>()) {
      if (!parse_semver(*s, a)) return std::nullopt;
      return apply_semver_op(a, plan.op, plan.version);
    }
    if (!version.is_number()) return std::nullopt;
    const std::string text = json::variant_name(version);
    if (!parse_semver(text, a)) return std::nullopt;
    return apply_semver_op(a, plan.op, plan.version);
  }

  // starts_with / ends_with on two evaluated operands.
  static std::optional<bool> affix(const Node& n, const Json& text, const Json& part) {
    const auto* t = text.get_ptr<const std::string*>();
    const auto* a = part.get_ptr<const std::string*>();
    if (t == nullptr || a == nullptr) return std::nullopt;
    const std::string_view tv = *t;
    if (a->size() > tv.size()) return false;
    return detail::same_string(
        n.op == Op::kStartsWith ? tv.substr(0, a->size()) : tv.substr(tv.size() - a->size()), *a);
  }

  // sem_ver / starts_with / ends_with: nullopt means null (bad arguments or after a failure).
  std::optional<bool> custom(const Node& n, const Scope& scope) {
    if (n.operands_simple && n.op == Op::kSemVer && n.semver) {
      if (!step(3)) return std::nullopt;
      return sem_ver_planned(*n.semver, simple_value(n.args[0], scope));
    }
    if (n.operands_simple && n.op != Op::kSemVer) {
      if (!step(2)) return std::nullopt;
      return affix(n, simple_value(n.args[0], scope), simple_value(n.args[1], scope));
    }
    if (!n.unary && n.op == Op::kSemVer && n.args.size() == 3) {
      Slot s0;
      const Json& version = eval(n.args[0], scope, s0);
      if (failed_) return std::nullopt;
      if (const SemVerPlan* plan = n.semver.get()) {
        if (!step(2)) return std::nullopt;
        return sem_ver_planned(*plan, version);
      }
      Slot s1;
      Slot s2;
      const Json& op = eval(n.args[1], scope, s1);
      if (failed_) return std::nullopt;
      const Json& other = eval(n.args[2], scope, s2);
      if (failed_) return std::nullopt;
      return sem_ver(version, op, other);
    }
    if (!n.unary && n.op != Op::kSemVer && n.args.size() == 2) {
      Slot s0;
      Slot s1;
      const Json& text = eval(n.args[0], scope, s0);
      if (failed_) return std::nullopt;
      const Json& tail = eval(n.args[1], scope, s1);
      if (failed_) return std::nullopt;
      return affix(n, text, tail);
    }
    Slot data_slot;
    const Json& data = eval_data(n, scope, data_slot);
    if (failed_) return std::nullopt;
    switch (n.op) {
      case Op::kSemVer:
        return sem_ver(data);
      case Op::kStartsWith:
        return starts_with(data);
      default:
        return ends_with(data);
    }
  }

  // Every evaluation goes through here: one unit of work, constants and variables (most
  // operands) without the general dispatch.
  [[gnu::always_inline]] const Json& eval(const Node& n, const Scope& scope, Slot& out) {
    if (!step()) return kNull;
    if (n.op == Op::kLiteral) return n.literal;
    if (n.op == Op::kVar && n.plain_path && scope.root) {
      const Json* found = plain_lookup(n);
      // json-logic-engine's compiled var uses `??`: a null value also falls back to the default.
      if (found != nullptr && !found->is_null()) return *found;
      if (n.args.size() < 2) return kNull;
      return eval_default(n, scope, out);
    }
    return eval_op(n, scope, out);
  }

  [[gnu::noinline]] const Json& eval_array(const Node& n, const Scope& scope, Slot& out) {
    Json arr = Json::array();
    for (const auto& a : n.args) {
      Slot s;
      const Json& v = eval(a, scope, s);
      if (failed_) return kNull;
      arr.push_back(take(v, s));
    }
    return out.emplace(std::move(arr));
  }

  [[gnu::noinline]] const Json& eval_if(const Node& n, const Scope& scope, Slot& out) {
    const std::size_t count = n.args.size();
    if (count == 3) {  // the usual form
      const bool t = test(n.args[0], scope);
      if (failed_) return kNull;
      return eval(n.args[t ? 1 : 2], scope, out);
    }
    if (count == 0) return kNull;
    if (count == 1) return eval(n.args[0], scope, out);
    std::size_t i = 0;
    for (; i + 1 < count; i += 2) {
      const bool t = test(n.args[i], scope);
      if (failed_) return kNull;
      if (t) return eval(n.args[i + 1], scope, out);
    }
    if (i < count) return eval(n.args[i], scope, out);
    return kNull;
  }

  [[gnu::noinline]] const Json& eval_compare(const Node& n, const Scope& scope) {
    const bool r = compare(n, scope);
    if (failed_) return kNull;
    return boolean(r);
  }

  [[gnu::noinline]] const Json& eval_not(const Node& n, const Scope& scope) {
    bool t = false;
    if (!n.args.empty()) {
      t = test(n.args[0], scope);
      if (failed_) return kNull;
    }
    return boolean(n.op == Op::kNot ? !t : t);
  }

  // `and`/`or` return the deciding operand itself; each operand is evaluated into `out`,
  // which the previous one no longer needs.
  [[gnu::noinline]] const Json& eval_logic(const Node& n, const Scope& scope, Slot& out) {
    if (n.args.empty()) return kNull;
    const Json* item = &kNull;
    for (const auto& a : n.args) {
      item = &eval(a, scope, out);
      if (failed_) return kNull;
      const bool t = truthy(*item);
      if (n.op == Op::kAnd ? !t : t) return *item;
    }
    return *item;
  }

  [[gnu::noinline]] const Json& eval_in(const Node& n, const Scope& scope) {
    const bool r = in(n, scope);
    if (failed_) return kNull;
    return boolean(r);
  }

  [[gnu::noinline]] const Json& eval_custom(const Node& n, const Scope& scope) {
    const auto r = custom(n, scope);
    if (failed_ || !r) return kNull;
    return boolean(*r);
  }

  // Dispatch only: each operator has its own function (tail-called, so that this one needs no
  // stack frame of its own).
  const Json& eval_op(const Node& n, const Scope& scope, Slot& out) {
    switch (n.op) {
      case Op::kLiteral:
        return n.literal;
      case Op::kArray:
        return eval_array(n, scope, out);
      case Op::kVar:
        return eval_var(n, scope, out);
      case Op::kMissing:
      case Op::kMissingSome:
        return eval_missing(n, scope, out);
      case Op::kIf:
        return eval_if(n, scope, out);
      case Op::kEq:
      case Op::kStrictEq:
      case Op::kNe:
      case Op::kStrictNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        return eval_compare(n, scope);
      case Op::kNot:
      case Op::kNotNot:
        return eval_not(n, scope);
      case Op::kAnd:
      case Op::kOr:
        return eval_logic(n, scope, out);
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kMod:
        return eval_arith(n, scope, out);
      case Op::kMin:
      case Op::kMax:
        return eval_minmax(n, scope, out);
      case Op::kCat:
        return eval_cat(n, scope, out);
      case Op::kSubstr:
        return eval_substr(n, scope, out);
      case Op::kIn:
        return eval_in(n, scope);
      case Op::kMerge:
        return eval_merge(n, scope, out);
      case Op::kMap:
      case Op::kFilter:
      case Op::kReduce:
      case Op::kAll:
      case Op::kNone:
      case Op::kSome:
        return eval_iter(n, scope, out);
      case Op::kFractional:
        return eval_fractional(n, scope, out);
      case Op::kSemVer:
      case Op::kStartsWith:
      case Op::kEndsWith:
        return eval_custom(n, scope);
    }
    return fail("internal: unknown node");
  }

  const Json& context_;
  const Env& env_;
  const EvalLimits& limits_;
  detail::PathMemo* const memo_;
  // Work left: max_steps (at most 2^63-1, far beyond any evaluation) minus the work charged.
  std::int64_t budget_;
  bool failed_ = false;
  const char* error_ = "";
  // Values built on first use: $flagd and its members, the root data with $flagd injected.
  struct Lazy {
    Slot flagd;
    Slot flag_key;
    Slot timestamp;
    Slot root;
  };
  Lazy& lazy() {
    if (!lazy_) lazy_.emplace();
    return *lazy_;
  }
  std::optional<Lazy> lazy_;
};

}  // namespace

bool truthy(const Json& value) {
  switch (value.type()) {
    case Json::value_t::array:
    case Json::value_t::object:
      return !value.empty();
    default:
      return !js_falsy(value);
  }
}

Rule::Rule() = default;
Rule::~Rule() = default;
Rule::Rule(Rule&&) noexcept = default;
Rule& Rule::operator=(Rule&&) noexcept = default;

Result<Rule> Rule::compile(const Json& logic) {
  auto node = compile_node(logic, 0);
  if (!node) return node.error();
  Rule r;
  r.root_ = std::make_unique<Node>(std::move(*node));
  prepare(*r.root_);
  return r;
}

void Rule::for_each_constant(ConstantVisitor fn, void* user) const {
  if (root_) visit_constants(*root_, fn, user);
}

namespace {

void number_paths(Node& n, detail::PathNumbering& numbering) {
  for (auto& a : n.args) number_paths(a, numbering);
  if (n.op != Op::kVar || !n.plain_path) return;
  std::vector<std::string> names;
  for (const auto& seg : n.path) names.push_back(seg.name);
  n.memo_slot = numbering.id(names);
}

}  // namespace

void detail::RuleAccess::number_paths(Rule& rule, PathNumbering& numbering) {
  if (rule.root_) eval::number_paths(*rule.root_, numbering);
}

const Json* detail::RuleAccess::evaluate(const Rule& rule, const Json& context, const Env& env,
                                         const EvalLimits& limits, PathMemo* memo,
                                         std::optional<Json>& storage, std::string& error) {
  if (!rule.root_) return &kNull;
  Evaluator ev(context, env, limits, memo);
  const Json& v = ev.run(*rule.root_, storage);
  if (ev.failed()) {
    error = ev.error();
    return nullptr;
  }
  return &v;
}

Result<Json> Rule::evaluate(const Json& context, const Env& env, const EvalLimits& limits) const {
  if (!root_) return Json();
  Evaluator ev(context, env, limits);
  Slot slot;
  const Json& v = ev.run(*root_, slot);
  if (ev.failed()) return Error{"evaluation_failed", ev.error(), ""};
  return take(v, slot);
}

bool Rule::evaluate_with(const Json& context, const Env& env, const EvalLimits& limits, Sink sink,
                         void* user, std::string& error) const {
  if (!root_) {
    sink(kNull, user);
    return true;
  }
  Evaluator ev(context, env, limits);
  Slot slot;
  const Json& v = ev.run(*root_, slot);
  if (ev.failed()) {
    error = ev.error();
    return false;
  }
  sink(v, user);
  return true;
}

}  // namespace ff::eval
