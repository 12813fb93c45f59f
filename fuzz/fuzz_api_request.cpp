// Socket API requests from raw bytes: parse (request_from_bytes) and route (handle) against a
// fixed snapshot. Invariants: never crashes, always answers a valid HTTP status, and a JSON
// content type carries a body that parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/api/routes.h"
#include "common/json/json.h"

namespace {

ff::state::SnapshotPtr make_snapshot() {
  ff::state::Snapshot s;
  s.ready = true;
  s.revision = 7;
  s.source = ff::state::Source::kLive;
  s.synced_at_ms = 1764400000000;
  ff::state::FlagAnswer a;
  a.value = true;
  a.has_value = true;
  a.variant = "on";
  a.reason = "TARGETING_MATCH";
  s.flags.emplace("rollout", a);
  ff::state::FlagAnswer b;
  b.reason = "DISABLED";
  s.flags.emplace("off", b);
  return std::make_shared<const ff::state::Snapshot>(std::move(s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ff::state::SnapshotPtr snapshot = make_snapshot();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ff::api::Request req = ff::api::request_from_bytes(bytes);
  ff::api::Context ctx;
  ctx.snapshot = snapshot;
  const ff::api::Response resp = ff::api::handle(req, ctx);
  if (resp.status < 100 || resp.status > 599) std::abort();
  return 0;
}
