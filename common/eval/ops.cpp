#include "common/eval/ops.h"

namespace ff::eval {
namespace {

std::optional<bool> affix(const Json& args, bool prefix) {
  if (!args.is_array() || args.size() != 2 || !args[0].is_string() || !args[1].is_string()) {
    return std::nullopt;
  }
  const std::string_view s = args[0].get_ref<const std::string&>();
  const std::string_view a = args[1].get_ref<const std::string&>();
  return prefix ? s.starts_with(a) : s.ends_with(a);
}

}  // namespace

// flagd formats sem_ver operands with fmt.Sprintf("%v"): strings as-is, numbers in their
// shortest form (1.2 -> "1.2"). Other types never form a valid version.
std::optional<bool> sem_ver(const Json& version, const Json& op, const Json& other) {
  if (!op.is_string()) return std::nullopt;
  std::string a_text;
  std::string b_text;
  SemVerView a;
  SemVerView b;
  if (version.is_string()) {
    if (!parse_semver(version.get_ref<const std::string&>(), a)) return std::nullopt;
  } else if (version.is_number()) {
    a_text = json::variant_name(version);
    if (!parse_semver(a_text, a)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (other.is_string()) {
    if (!parse_semver(other.get_ref<const std::string&>(), b)) return std::nullopt;
  } else if (other.is_number()) {
    b_text = json::variant_name(other);
    if (!parse_semver(b_text, b)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  const auto code = parse_semver_op(op.get_ref<const std::string&>());
  if (!code) return std::nullopt;
  return apply_semver_op(a, *code, b);
}

std::optional<bool> sem_ver(const Json& args) {
  if (!args.is_array() || args.size() != 3) return std::nullopt;
  return sem_ver(args[0], args[1], args[2]);
}

std::optional<bool> starts_with(const Json& args) {
  return affix(args, true);
}
std::optional<bool> ends_with(const Json& args) {
  return affix(args, false);
}

}  // namespace ff::eval
