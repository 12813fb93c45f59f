#include "common/eval/ops.h"

namespace ff::eval {
namespace {

// flagd formats sem_ver operands with fmt.Sprintf("%v"): strings as-is, numbers in their
// shortest form (1.2 -> "1.2"). Other types never form a valid version.
std::optional<SemVer> semver_operand(const Json& v) {
  if (v.is_string()) return parse_semver(v.get_ref<const std::string&>());
  if (v.is_number()) return parse_semver(json::variant_name(v));
  return std::nullopt;
}

std::optional<bool> affix(const Json& args, bool prefix) {
  if (!args.is_array() || args.size() != 2 || !args[0].is_string() || !args[1].is_string()) {
    return std::nullopt;
  }
  const auto& s = args[0].get_ref<const std::string&>();
  const auto& a = args[1].get_ref<const std::string&>();
  if (a.size() > s.size()) return false;
  return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
}

}  // namespace

std::optional<bool> sem_ver(const Json& args) {
  if (!args.is_array() || args.size() != 3 || !args[1].is_string()) return std::nullopt;
  const auto a = semver_operand(args[0]);
  const auto b = semver_operand(args[2]);
  if (!a || !b) return std::nullopt;
  const auto& op = args[1].get_ref<const std::string&>();
  const int c = compare_semver(*a, *b);
  if (op == "=") return c == 0;
  if (op == "!=") return c != 0;
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  if (op == ">=") return c >= 0;
  if (op == "^") return a->major == b->major;
  if (op == "~") return a->major == b->major && a->minor == b->minor;
  return std::nullopt;
}

std::optional<bool> starts_with(const Json& args) {
  return affix(args, true);
}
std::optional<bool> ends_with(const Json& args) {
  return affix(args, false);
}

}  // namespace ff::eval
