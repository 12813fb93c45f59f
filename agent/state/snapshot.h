// The agent's answer set for this host, as served by the read path.
//
// A Snapshot is immutable once published: readers hold a shared_ptr to it for as long as they
// need and never lock. Writers (the sync loop) build a new Snapshot and publish it through
// StateHolder, which bumps the revision and wakes blocking queries.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/json/json.h"

namespace ff::state {

// Where an answer came from (the socket API's `source`).
enum class Source { kLive, kCache, kPinned, kDefault };
const char* to_string(Source s);

struct FlagAnswer {
  Json value;  // null when the flag has no value (caller's default)
  bool has_value = false;
  std::optional<std::string> variant;
  std::string reason;  // STATIC, TARGETING_MATCH, DEFAULT, DISABLED, ERROR, ...
  std::optional<std::string> error_code;
  std::string error_details;
  Json metadata = Json::object();
  std::int64_t updated_at_ms = 0;  // when this flag's value/variant last changed

  bool same_answer(const FlagAnswer& o) const {
    return has_value == o.has_value && value == o.value && variant == o.variant &&
           reason == o.reason && error_code == o.error_code;
  }
};

// What the sync side knows about the upstream; shown by /v1/status.
struct SyncStatus {
  std::string mode;      // "ofrep" | "flagd" | "definitions"
  std::string upstream;  // URL or file path
  std::int64_t last_attempt_ms = 0;
  std::int64_t last_success_ms = 0;
  std::string last_error;  // empty when the last attempt succeeded
  std::uint32_t consecutive_failures = 0;
  std::int64_t next_attempt_ms = 0;
  bool stream_connected = false;  // flagd EventStream
};

struct Snapshot {
  std::uint64_t revision = 0;        // set by StateHolder::publish
  bool ready = false;                // false: no cache and no successful sync yet
  Source source = Source::kDefault;  // live after a sync; cache when served from SQLite/stale
  std::int64_t synced_at_ms = 0;     // last successful sync (0: never)
  std::map<std::string, FlagAnswer, std::less<>> flags;
  // Flag-set metadata (flagd `metadata` at the top of the definitions, or the upstream bulk
  // answer's top-level `metadata`): the OFREP bulk answer's top-level `metadata`. Each answer's
  // own `metadata` already has it merged in (flag keys win).
  Json flag_set_metadata = Json::object();
  Json context = Json::object();  // the evaluation context these answers were made for
  SyncStatus sync;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace ff::state
