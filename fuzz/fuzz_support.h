// Helpers shared by the libFuzzer targets: invariant checks and fixed evaluation contexts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/json/json.h"

// An invariant the engine promises; a violation aborts, which libFuzzer records as a crash.
#define FF_FUZZ_CHECK(cond)                                                             \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

namespace ff::fuzz {

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Contexts every rule is evaluated against, besides the one taken from the input: empty, a
// typical user, hash edge keys (murmur3 0 / INT32_MAX / UINT32_MAX, flagd testbed), values of
// the wrong type for every operator, a caller-supplied $flagd (must be overwritten), and a
// non-object (behaves as an empty object).
inline const std::vector<Json>& fixed_contexts() {
  static const std::vector<Json>* contexts = new std::vector<Json>{
      Json::object(),
      Json::parse(R"({"targetingKey":"user-1","email":"ann@example.com","tier":"internal",
        "version":"2.1.0-rc.1","age":42,"beta":true,"groups":["beta","staff"],
        "user":{"name":"ann","tags":["a","b"]},"integers":[1,2,3,4],
        "pies":[{"filling":"apple"},{"filling":"cherry"}],"time":1700000000})"),
      Json::parse(R"({"targetingKey":"ejOoVL","version":"v1","id":"abcxyz"})"),
      Json::parse(R"({"targetingKey":"SI7p-","version":"V2.0.0+build.5","id":"xyz"})"),
      Json::parse(R"({"targetingKey":"ceQdGm","version":1.2,"email":"","age":"42"})"),
      Json::parse(R"({"targetingKey":5,"email":null,"tier":["internal"],"version":{},
        "age":-1e308,"groups":"beta","user":"ann","integers":[1,"2",null,[3]],
        "$flagd":{"flagKey":7,"timestamp":"now"}})"),
      Json::parse(R"({"targetingKey":"","version":"2.0.0.0","age":1.5e-7,
        "email":"\u00e9\u65e5\ud83d\ude00@x","id":"\u00e9"})"),
      Json::array({1, 2}),
  };
  return *contexts;
}

// Fixed $flagd.timestamp so that runs are reproducible.
inline constexpr std::int64_t kNow = 1700000000;

}  // namespace ff::fuzz
