#include "common/eval/logic.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/eval/ops.h"

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

struct Node {  // NOLINT(bugprone-exception-escape): nlohmann's noexcept(false) ctors
  Op op = Op::kLiteral;
  // For operators written with a single non-array argument ({"var":"x"}, {"!":true}): the
  // argument is args[0] and unary is true. Some operators treat the two forms differently.
  bool unary = false;
  Json literal;            // kLiteral
  std::vector<Node> args;  // operands, in order
  // kVar with a constant path: the path split on '.', and the default (args[1] if present).
  bool const_path = false;
  bool whole_data = false;  // path "" / null: the current data itself
  bool flagd_path = false;  // path begins with "$flagd" (injected, root scope only)
  std::vector<std::string> path;
};

namespace {

const Json kNull;

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

constexpr std::size_t kMaxCompileDepth = 200;

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
  if (all_literal) {
    Node lit;
    lit.literal = j;
    return lit;
  }
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
  n.path = split_path(text);
  n.flagd_path = n.path[0] == "$flagd";
}

Result<Node> compile_node(const Json& j, std::size_t depth) {
  if (depth > kMaxCompileDepth) return Error{"too_deep", "rule nests too deeply", ""};
  if (j.is_array()) return compile_array_literal(j, depth);
  if (!j.is_object() || j.empty()) {
    Node lit;
    lit.literal = j;
    return lit;
  }
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
      return v.get<bool>() ? 1 : 0;
    case Json::value_t::number_integer:
      return static_cast<double>(v.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return static_cast<double>(v.get<std::uint64_t>());
    case Json::value_t::number_float:
      return v.get<double>();
    case Json::value_t::string:
      return js_string_to_number(v.get_ref<const std::string&>());
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
      return !v.get<bool>();
    case Json::value_t::string:
      return v.get_ref<const std::string&>().empty();
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
  if (a.is_number() && b.is_number()) return to_number(a) == to_number(b);
  if (a.type() != b.type()) return false;
  if (a.is_structured()) return &a == &b;
  return a == b;
}

// JavaScript `==` on primitives (null, boolean, number, string).
bool js_loose_equal(const Json& a, const Json& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.is_string() && b.is_string()) return a == b;
  const double x = to_number(a);
  const double y = to_number(b);
  return x == y;
}

enum class Rel { kLt, kLe, kGt, kGe };

bool js_relational(const Json& a, const Json& b, Rel rel) {
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
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

// JavaScript String(v) for the values json-logic concatenates.
void append_js_string(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return;  // json-logic's cat skips null (Array.prototype.join semantics)
    case Json::value_t::string:
      out += v.get_ref<const std::string&>();
      return;
    case Json::value_t::boolean:
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      out += json::variant_name(v);
      return;
    case Json::value_t::array: {
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ',';
        first = false;
        append_js_string(out, e);
      }
      return;
    }
    default:
      out += "[object Object]";
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

// ---- evaluation ----

// An intermediate value: either borrowed (from the rule's constants or the caller's context,
// both outliving the evaluation) or owned. Borrowing keeps the hot path allocation-free.
struct Val {
  const Json* ref = nullptr;
  Json own;

  Val() : ref(&kNull) {}
  explicit Val(const Json* r) : ref(r) {}
  explicit Val(Json j) : own(std::move(j)) {}
  const Json& get() const { return ref != nullptr ? *ref : own; }
  Json take() && {
    if (ref != nullptr) return *ref;
    return std::move(own);
  }
};

struct Scope {
  const Json* data;
  bool root;  // $flagd.* resolves only against the evaluation's root data
};

class Evaluator {
 public:
  Evaluator(const Json& context, const Env& env, const EvalLimits& limits)
      : context_(context), env_(env), limits_(limits) {}

  Val run(const Node& n) { return eval(n, Scope{&context_, true}); }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

 private:
  Val fail(std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(message);
    }
    return Val();
  }

  bool step(std::uint64_t n = 1) {
    steps_ += n;
    if (steps_ > limits_.max_steps) {
      fail("evaluation exceeded its work budget");
      return false;
    }
    return true;
  }

  const Json& flagd_object() {
    if (!flagd_built_) {
      flagd_ = Json{{"flagKey", env_.flag_key}, {"timestamp", env_.timestamp}};
      flagd_built_ = true;
    }
    return flagd_;
  }

  const Json& root_with_flagd() {
    if (!root_built_) {
      root_ = context_.is_object() ? context_ : Json::object();
      root_["$flagd"] = flagd_object();
      root_built_ = true;
    }
    return root_;
  }

  static const Json* child(const Json* cur, const std::string& seg) {
    if (cur->is_object()) {
      const auto it = cur->find(seg);
      return it == cur->end() ? nullptr : &*it;
    }
    if (cur->is_array()) {
      std::size_t idx = 0;
      const auto r = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
      if (r.ec != std::errc() || r.ptr != seg.data() + seg.size() || seg.empty() ||
          (seg.size() > 1 && seg[0] == '0') || idx >= cur->size()) {
        return nullptr;
      }
      return &(*cur)[idx];
    }
    return nullptr;
  }

  // Looks a path up in the scope. Returns nullptr when absent.
  const Json* lookup(const std::vector<std::string>& path, const Scope& scope, Val& holder) {
    const Json* cur = scope.data;
    std::size_t i = 0;
    if (scope.root) {
      if (!path.empty() && path[0] == "$flagd") {
        cur = &flagd_object();
        i = 1;
      } else if (!context_.is_object()) {
        return nullptr;
      }
    }
    for (; i < path.size(); ++i) {
      if (cur->is_string() && path[i] == "length") {
        // JavaScript strings expose .length (UTF-16 units; code points here).
        holder = Val(Json(decode_utf8(cur->get_ref<const std::string&>()).size()));
        return i + 1 == path.size() ? &holder.own : nullptr;
      }
      cur = child(cur, path[i]);
      if (cur == nullptr) return nullptr;
    }
    return cur;
  }

  Val eval_var(const Node& n, const Scope& scope) {
    const Json* found = nullptr;
    Val holder;
    if (n.const_path) {
      if (n.whole_data) return Val(scope.root ? &root_with_flagd() : scope.data);
      found = lookup(n.path, scope, holder);
    } else {
      Val key = eval(n.args[0], scope);
      if (failed_) return Val();
      const Json& k = key.get();
      if (k.is_null() || (k.is_string() && k.get_ref<const std::string&>().empty())) {
        return Val(scope.root ? &root_with_flagd() : scope.data);
      }
      if (!k.is_string() && !k.is_number()) return fail("var needs a string or number path");
      found = lookup(split_path(json::variant_name(k)), scope, holder);
    }
    // json-logic-engine's compiled var uses `??`: a null value also falls back to the default.
    if (found == nullptr || found->is_null()) {
      if (n.args.size() >= 2) return eval(n.args[1], scope);
      return Val();
    }
    if (found == &holder.own) return holder;
    return Val(found);
  }

  // Evaluates every argument into `out`.
  bool eval_args(const Node& n, const Scope& scope, std::vector<Val>& out) {
    out.reserve(n.args.size());
    for (const auto& a : n.args) {
      out.push_back(eval(a, scope));
      if (failed_) return false;
    }
    return true;
  }

  // The evaluated operand list as JSON (operators whose arguments are evaluated eagerly).
  // For the unary form the single argument's value is returned as is.
  Val eval_data(const Node& n, const Scope& scope) {
    if (n.unary) return eval(n.args[0], scope);
    Json arr = Json::array();
    for (const auto& a : n.args) {
      Val v = eval(a, scope);
      if (failed_) return Val();
      arr.push_back(std::move(v).take());
    }
    return Val(std::move(arr));
  }

  Val eval_compare(const Node& n, const Scope& scope) {
    if (n.args.size() < 2) return fail("comparison needs at least two arguments");
    const bool strict = n.op == Op::kStrictEq || n.op == Op::kStrictNe;
    Val prev = eval(n.args[0], scope);
    if (failed_) return Val();
    for (std::size_t i = 1; i < n.args.size(); ++i) {
      Val cur = eval(n.args[i], scope);
      if (failed_) return Val();
      const Json& a = prev.get();
      const Json& b = cur.get();
      bool result = false;
      if (strict) {
        result = js_strict_equal(a, cur.get());
        if (n.op == Op::kStrictNe) result = !result;
      } else {
        // flagd Go (diegoholiveira/jsonlogic) semantics, the reference: an object or array
        // equals nothing and orders with nothing; null equals only null; a string that is not
        // a number compared with a number is simply false. flagd-core throws for some of these
        // depending on operand order (tests/diff/README.md), so it cannot be the guide here.
        if (a.is_structured() || b.is_structured()) {
          if (n.op != Op::kNe) return Val(Json(false));
          prev = std::move(cur);
          continue;
        }
        switch (n.op) {
          case Op::kEq:
            result = js_loose_equal(a, b);
            break;
          case Op::kNe:
            result = !js_loose_equal(a, b);
            break;
          case Op::kLt:
            result = js_relational(a, b, Rel::kLt);
            break;
          case Op::kLe:
            result = js_relational(a, b, Rel::kLe);
            break;
          case Op::kGt:
            result = js_relational(a, b, Rel::kGt);
            break;
          case Op::kGe:
            result = js_relational(a, b, Rel::kGe);
            break;
          default:
            break;
        }
      }
      if (!result) return Val(Json(false));
      prev = std::move(cur);
    }
    return Val(Json(true));
  }

  Val eval_arith(const Node& n, const Scope& scope) {
    Val data = eval_data(n, scope);
    if (failed_) return Val();
    const Json& d = data.get();
    auto num = [&](const Json& v, double& out) {
      if (v.is_structured()) return false;
      out = to_number(v);
      return !std::isnan(out);
    };
    double res = 0;
    if (!d.is_array()) {
      if (d.is_object() && !d.empty()) return fail("arithmetic on an object");
      double x = 0;
      if (!num(d, x)) return fail("arithmetic operand is not a number");
      switch (n.op) {
        case Op::kAdd:
          return Val(number_json(x));
        case Op::kSub:
          return Val(number_json(-x));
        case Op::kMul:
          return Val(number_json(x));
        case Op::kDiv:
          if (x == 0) return fail("division by zero");
          return Val(number_json(1 / x));
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
          if (n.op == Op::kSub) return Val(number_json(-first));
          if (first == 0) return fail("division by zero");
          return Val(number_json(1 / first));
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
    return Val(number_json(res));
  }

  Val eval_minmax(const Node& n, const Scope& scope) {
    Val data = eval_data(n, scope);
    if (failed_) return Val();
    const Json& d = data.get();
    if (!d.is_array() || d.empty()) return fail("min/max need at least one number");
    double best = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (!d[i].is_number()) return fail("min/max take numbers only");
      const double x = to_number(d[i]);
      if (i == 0 || (n.op == Op::kMax ? x > best : x < best)) best = x;
    }
    return Val(number_json(best));
  }

  Val eval_cat(const Node& n, const Scope& scope) {
    std::string out;
    for (const auto& a : n.args) {
      Val v = eval(a, scope);
      if (failed_) return Val();
      append_js_string(out, v.get());
      if (out.size() > limits_.max_build) return fail("cat result too large");
    }
    return Val(Json(std::move(out)));
  }

  Val eval_substr(const Node& n, const Scope& scope) {
    if (n.args.empty()) return fail("substr needs a string");
    std::vector<Val> v;
    if (!eval_args(n, scope, v)) return Val();
    const Json& s = v[0].get();
    if (!s.is_string()) return fail("substr needs a string");
    const auto cps = decode_utf8(s.get_ref<const std::string&>());
    const auto len = static_cast<std::int64_t>(cps.size());
    auto to_int = [](const Json& j) -> std::int64_t {
      double d = to_number(j);
      if (std::isnan(d)) return 0;
      d = std::trunc(d);
      if (d > 1e15) return static_cast<std::int64_t>(1e15);
      if (d < -1e15) return static_cast<std::int64_t>(-1e15);
      return static_cast<std::int64_t>(d);
    };
    std::int64_t from = v.size() > 1 ? to_int(v[1].get()) : 0;
    if (from < 0) from = std::max<std::int64_t>(0, len + from);
    from = std::min(from, len);
    std::int64_t end = len;
    if (v.size() > 2 && !v[2].get().is_null()) {
      const std::int64_t count = to_int(v[2].get());
      end = count < 0 ? std::max(from, len + count) : std::min(len, from + count);
    }
    std::string out;
    for (std::int64_t i = from; i < end; ++i) encode_utf8(out, cps[static_cast<std::size_t>(i)]);
    return Val(Json(std::move(out)));
  }

  Val eval_in(const Node& n, const Scope& scope) {
    if (n.args.size() < 2) return Val(Json(false));
    Val item = eval(n.args[0], scope);
    if (failed_) return Val();
    Val hay = eval(n.args[1], scope);
    if (failed_) return Val();
    const Json& h = hay.get();
    const Json& x = item.get();
    if (h.is_array()) {
      for (const auto& e : h) {
        if (!step()) return Val();
        if (js_strict_equal(e, x)) return Val(Json(true));
      }
      return Val(Json(false));
    }
    if (h.is_string()) {
      std::string needle;
      if (x.is_null()) {
        needle = "null";
      } else if (x.is_structured()) {
        return fail("'in' on a string needs a primitive");
      } else {
        append_js_string(needle, x);
      }
      return Val(Json(h.get_ref<const std::string&>().find(needle) != std::string::npos));
    }
    if (js_falsy(h)) return Val(Json(false));
    return fail("'in' needs an array or a string");
  }

  Val eval_merge(const Node& n, const Scope& scope) {
    Json out = Json::array();
    for (const auto& a : n.args) {
      Val v = eval(a, scope);
      if (failed_) return Val();
      const Json& j = v.get();
      if (j.is_array()) {
        for (const auto& e : j) out.push_back(e);
      } else {
        out.push_back(j);
      }
      if (out.size() > limits_.max_build) return fail("merge result too large");
    }
    return Val(std::move(out));
  }

  // Evaluates the array operand of map/filter/reduce/all/none/some. Falsy values are treated
  // as an empty array; other non-arrays fail.
  bool iterable(const Node& n, const Scope& scope, Val& out) {
    out = eval(n.args[0], scope);
    if (failed_) return false;
    const Json& j = out.get();
    if (j.is_array()) return true;
    if (js_falsy(j) || (j.is_object() && j.empty())) {
      out = Val(Json::array());
      return true;
    }
    fail("expected an array");
    return false;
  }

  Val eval_iter(const Node& n, const Scope& scope) {
    if (n.args.size() < 2 && n.op != Op::kReduce) {
      if (n.args.empty()) return fail("missing array operand");
    }
    Val arr;
    if (!iterable(n, scope, arr)) return Val();
    const Json& a = arr.get();
    if (!step(a.size())) return Val();
    const Node* body = n.args.size() > 1 ? &n.args[1] : nullptr;
    auto apply = [&](const Json& elem) -> Val {
      if (body == nullptr) return Val();
      return eval(*body, Scope{&elem, false});
    };
    switch (n.op) {
      case Op::kMap: {
        Json out = Json::array();
        for (const auto& e : a) {
          Val r = apply(e);
          if (failed_) return Val();
          out.push_back(std::move(r).take());
        }
        return Val(std::move(out));
      }
      case Op::kFilter: {
        Json out = Json::array();
        for (const auto& e : a) {
          Val r = apply(e);
          if (failed_) return Val();
          if (truthy(r.get())) out.push_back(e);
        }
        return Val(std::move(out));
      }
      case Op::kAll: {
        if (a.empty()) return Val(Json(false));
        for (const auto& e : a) {
          Val r = apply(e);
          if (failed_) return Val();
          if (!truthy(r.get())) return Val(Json(false));
        }
        return Val(Json(true));
      }
      case Op::kSome:
      case Op::kNone: {
        bool any = false;
        for (const auto& e : a) {
          Val r = apply(e);
          if (failed_) return Val();
          if (truthy(r.get())) {
            any = true;
            break;
          }
        }
        return Val(Json(n.op == Op::kSome ? any : !any));
      }
      case Op::kReduce: {
        std::size_t start = 0;
        Json acc;
        if (n.args.size() > 2) {
          Val init = eval(n.args[2], scope);
          if (failed_) return Val();
          acc = std::move(init).take();
        } else {
          if (a.empty()) return fail("reduce of an empty array with no initial value");
          acc = a[0];
          start = 1;
        }
        for (std::size_t i = start; i < a.size(); ++i) {
          Json frame = Json::object();
          frame["current"] = a[i];
          frame["accumulator"] = std::move(acc);
          Val r = apply(frame);
          if (failed_) return Val();
          acc = std::move(r).take();
          if (acc.is_structured() && acc.size() > limits_.max_build) {
            return fail("reduce result too large");
          }
        }
        return Val(std::move(acc));
      }
      default:
        return fail("internal: not an iteration");
    }
  }

  Val eval_missing(const Node& n, const Scope& scope) {
    Val keys_holder;
    const Json* keys = nullptr;
    Json keys_arr;
    if (n.op == Op::kMissingSome) {
      if (n.args.size() < 2) return fail("missing_some needs [count, keys]");
      Val need = eval(n.args[0], scope);
      if (failed_) return Val();
      keys_holder = eval(n.args[1], scope);
      if (failed_) return Val();
      keys = &keys_holder.get();
      if (!keys->is_array()) return fail("missing_some needs an array of keys");
      Json missing = collect_missing(*keys, scope);
      if (failed_) return Val();
      const double needed = to_number(need.get());
      if (static_cast<double>(keys->size() - missing.size()) >= needed) return Val(Json::array());
      return Val(std::move(missing));
    }
    // {"missing": X} where X evaluates to an array uses that array as the key list.
    if (n.args.size() == 1) {
      keys_holder = eval(n.args[0], scope);
      if (failed_) return Val();
      if (keys_holder.get().is_array()) {
        keys = &keys_holder.get();
      } else {
        keys_arr = Json::array({keys_holder.get()});
        keys = &keys_arr;
      }
    } else {
      keys_arr = Json::array();
      for (const auto& a : n.args) {
        Val v = eval(a, scope);
        if (failed_) return Val();
        keys_arr.push_back(std::move(v).take());
      }
      keys = &keys_arr;
    }
    return Val(collect_missing(*keys, scope));
  }

  Json collect_missing(const Json& keys, const Scope& scope) {
    Json missing = Json::array();
    for (const auto& k : keys) {
      if (!step()) return missing;
      if (k.is_structured()) {
        missing.push_back(k);
        continue;
      }
      Val holder;
      const auto path = split_path(k.is_string() ? k.get<std::string>() : json::variant_name(k));
      const Json* found = lookup(path, scope, holder);
      if (found == nullptr) missing.push_back(k);
    }
    return missing;
  }

  Val eval_fractional(const Node& n, const Scope& scope) {
    std::vector<Val> v;
    if (!eval_args(n, scope, v)) return Val();
    if (v.empty()) return Val();
    std::size_t first_bucket = 0;
    std::string bucket_by;
    const Json& a0 = v[0].get();
    if (a0.is_string()) {
      bucket_by = a0.get<std::string>();
      first_bucket = 1;
    } else {
      if (a0.is_null()) first_bucket = 1;  // flagd v2: a null bucketing value is dropped
      const auto tk = context_.is_object() ? context_.find("targetingKey") : context_.end();
      if (tk == context_.end() || !tk->is_string() || tk->get_ref<const std::string&>().empty()) {
        return Val();
      }
      bucket_by.reserve(env_.flag_key.size() + tk->get_ref<const std::string&>().size());
      bucket_by.append(env_.flag_key);
      bucket_by.append(tk->get_ref<const std::string&>());
    }
    std::uint64_t total = 0;
    for (std::size_t i = first_bucket; i < v.size(); ++i) {
      const Json& b = v[i].get();
      if (!b.is_array() || b.empty() || b.size() > 2) return Val();
      const Json& variant = b[0];
      if (variant.is_structured()) return Val();
      if (b.size() == 2) {
        const Json& w = b[1];
        if (!w.is_number()) return Val();
        const double d = to_number(w);
        if (std::trunc(d) != d || std::isinf(d)) return Val();
        if (d > 0) total += d > 4294967296.0 ? 4294967296ull : static_cast<std::uint64_t>(d);
      } else {
        total += 1;
      }
      if (total > 2147483647ull) return Val();
    }
    if (total == 0) return Val();
    const std::uint64_t bucket = fractional_bucket(murmur3_x86_32(bucket_by), total);
    std::uint64_t sum = 0;
    for (std::size_t i = first_bucket; i < v.size(); ++i) {
      const Json& b = v[i].get();
      std::uint64_t w = 1;
      if (b.size() == 2) {
        const double d = to_number(b[1]);
        w = d > 0 ? static_cast<std::uint64_t>(d) : 0;
      }
      sum += w;
      if (sum > bucket) {
        if (v[i].ref != nullptr) return Val(&(*v[i].ref)[0]);
        return Val(Json(b[0]));
      }
    }
    return Val();
  }

  Val eval_custom(const Node& n, const Scope& scope) {
    Val data = eval_data(n, scope);
    if (failed_) return Val();
    std::optional<bool> r;
    switch (n.op) {
      case Op::kSemVer:
        r = sem_ver(data.get());
        break;
      case Op::kStartsWith:
        r = starts_with(data.get());
        break;
      default:
        r = ends_with(data.get());
        break;
    }
    if (!r) return Val();
    return Val(Json(*r));
  }

  Val eval(const Node& n, const Scope& scope) {
    if (++steps_ > limits_.max_steps) return fail("evaluation exceeded its work budget");
    switch (n.op) {
      case Op::kLiteral:
        return Val(&n.literal);
      case Op::kArray: {
        Json out = Json::array();
        for (const auto& a : n.args) {
          Val v = eval(a, scope);
          if (failed_) return Val();
          out.push_back(std::move(v).take());
        }
        return Val(std::move(out));
      }
      case Op::kVar:
        return eval_var(n, scope);
      case Op::kMissing:
      case Op::kMissingSome:
        return eval_missing(n, scope);
      case Op::kIf: {
        const std::size_t count = n.args.size();
        if (count == 0) return Val();
        if (count == 1) return eval(n.args[0], scope);
        std::size_t i = 0;
        for (; i + 1 < count; i += 2) {
          Val c = eval(n.args[i], scope);
          if (failed_) return Val();
          if (truthy(c.get())) return eval(n.args[i + 1], scope);
        }
        if (i < count) return eval(n.args[i], scope);
        return Val();
      }
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
      case Op::kNotNot: {
        bool t = false;
        if (!n.args.empty()) {
          Val v = eval(n.args[0], scope);
          if (failed_) return Val();
          t = truthy(v.get());
        }
        return Val(Json(n.op == Op::kNot ? !t : t));
      }
      case Op::kAnd:
      case Op::kOr: {
        if (n.args.empty()) return Val();
        Val item;
        for (const auto& a : n.args) {
          item = eval(a, scope);
          if (failed_) return Val();
          const bool t = truthy(item.get());
          if (n.op == Op::kAnd ? !t : t) return item;
        }
        return item;
      }
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kMod:
        return eval_arith(n, scope);
      case Op::kMin:
      case Op::kMax:
        return eval_minmax(n, scope);
      case Op::kCat:
        return eval_cat(n, scope);
      case Op::kSubstr:
        return eval_substr(n, scope);
      case Op::kIn:
        return eval_in(n, scope);
      case Op::kMerge:
        return eval_merge(n, scope);
      case Op::kMap:
      case Op::kFilter:
      case Op::kReduce:
      case Op::kAll:
      case Op::kNone:
      case Op::kSome:
        return eval_iter(n, scope);
      case Op::kFractional:
        return eval_fractional(n, scope);
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
  std::uint64_t steps_ = 0;
  bool failed_ = false;
  std::string error_;
  bool flagd_built_ = false;
  Json flagd_;
  bool root_built_ = false;
  Json root_;
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
  return r;
}

Result<Json> Rule::evaluate(const Json& context, const Env& env, const EvalLimits& limits) const {
  if (!root_) return Json();
  Evaluator ev(context, env, limits);
  Val v = ev.run(*root_);
  if (ev.failed()) return Error{"evaluation_failed", ev.error(), ""};
  return std::move(v).take();
}

bool Rule::evaluate_with(const Json& context, const Env& env, const EvalLimits& limits, Sink sink,
                         void* user, std::string& error) const {
  if (!root_) {
    sink(kNull, user);
    return true;
  }
  Evaluator ev(context, env, limits);
  Val v = ev.run(*root_);
  if (ev.failed()) {
    error = ev.error();
    return false;
  }
  sink(v.get(), user);
  return true;
}

}  // namespace ff::eval
