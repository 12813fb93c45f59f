// Fuzzes strict validation (`fleetflag validate`, ff::flags::validate_text). Checks, besides
// memory errors and UB:
//   - every violation has a JSON Pointer path ("" or starting with '/') and a reason;
//   - a parse failure is exactly one violation at path "";
//   - validate_text(t) reports what validate(parse(t)) reports;
//   - a document that validates is accepted by the lenient loader (anything `validate` passes,
//     the agent must be able to serve).
#include <string>
#include <vector>

#include "common/flags/model.h"
#include "common/flags/validate.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text = ff::fuzz::as_text(data, size);
  const std::vector<ff::flags::Violation> violations = ff::flags::validate_text(text);
  for (const auto& v : violations) {
    FF_FUZZ_CHECK(v.path.empty() || v.path.front() == '/');
    FF_FUZZ_CHECK(!v.reason.empty());
  }

  auto parsed = ff::json::parse(text);
  if (!parsed) {
    FF_FUZZ_CHECK(violations.size() == 1 && violations.front().path.empty());
    return 0;
  }
  const std::vector<ff::flags::Violation> again = ff::flags::validate(*parsed);
  FF_FUZZ_CHECK(again.size() == violations.size());
  for (std::size_t i = 0; i < again.size(); ++i) {
    FF_FUZZ_CHECK(again[i].path == violations[i].path && again[i].reason == violations[i].reason);
  }

  if (violations.empty()) {
    auto set = ff::flags::load(*parsed);
    if (!set) {
      std::fprintf(stderr, "valid but not loadable: %s\n", set.error().to_string().c_str());
    }
    FF_FUZZ_CHECK(set.ok());
  }
  return 0;
}
