// Upstream wire parsers from raw bytes: OFREP bulk bodies, flagd ResolveAll bodies, and the
// Connect envelope stream (fed in two arbitrary chunks to exercise partial reads).
// Invariants: never crashes; a parser either fails with an Error or returns an object keyed by
// flag whose answers all carry a string reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/sync/connect_envelope.h"
#include "agent/sync/wire.h"

namespace {

void check_answers(const ff::Result<ff::Json>& r) {
  if (!r) return;
  if (!r->is_object()) std::abort();
  for (const auto& [key, answer] : r->items()) {
    (void)key;
    if (!answer.is_object() || !answer.contains("reason") || !answer["reason"].is_string()) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_answers(ff::sync::parse_ofrep_bulk(bytes, 1u << 20));
  check_answers(ff::sync::parse_flagd_resolve_all(bytes, 1u << 20));
  ff::sync::EnvelopeParser parser(1u << 16);
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  auto first = parser.feed(bytes.substr(0, cut));
  if (first) (void)parser.feed(bytes.substr(cut));
  return 0;
}
