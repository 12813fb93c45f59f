// The persistent cache seam. The agent talks to a Store; the real one is SQLite (WAL) at
// /var/lib/fleetflag/cache.db, tests may also use an in-memory fake (tests/fakes/).
//
// Contract: every save_* writes in one transaction and only when the value differs from what
// is stored (returns true when it wrote). Errors (full disk, read-only directory, I/O) come
// back as Error and never destroy what is stored; the caller keeps serving from memory.
//
// Threading: a Store is called from one thread at a time (the agent's sync thread). The SQLite
// store does no locking of its own; SQLite's file locks coordinate with other processes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json/json.h"

namespace ff::store {

// Answers for this host. `flags` maps a flag key to its answer object:
// {"value"?, "variant"?, "reason", "errorCode"?, "errorDetails"?, "metadata", "updatedAt"}
// (updatedAt: Unix ms when that flag's answer last changed).
struct CachedEvaluations {
  std::string context_hash;  // identifies the context the answers were made for
  std::int64_t synced_at_ms = 0;
  Json flags = Json::object();
};

// Raw flagd definitions text as last fetched successfully (definitions mode), so that local
// evaluation keeps working offline.
struct CachedDefinitions {
  std::string source;  // file path or URL
  std::string body;
  std::string etag;
  std::int64_t fetched_at_ms = 0;
};

struct SyncRecord {
  std::string etag;  // last upstream ETag (remote modes)
  std::int64_t last_attempt_ms = 0;
  std::int64_t last_success_ms = 0;
  std::string last_error;
  std::uint64_t revision = 0;
};

// Canary fatigue: the first time this host was served a canary variant of a flag (a variant
// the flag's metadata lists in `canaryVariants`). One record per (flag, variant), never updated.
struct CanaryRecord {
  std::string flag_key;
  std::string variant;
  std::int64_t first_seen_ms = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Result<std::optional<CachedEvaluations>> load_evaluations() = 0;
  virtual Result<bool> save_evaluations(const CachedEvaluations& e) = 0;
  virtual Result<std::optional<CachedDefinitions>> load_definitions() = 0;
  virtual Result<bool> save_definitions(const CachedDefinitions& d) = 0;
  virtual Result<SyncRecord> load_sync() = 0;
  virtual Result<bool> save_sync(const SyncRecord& r) = 0;
  // Every canary record, ordered by flag key then variant.
  virtual Result<std::vector<CanaryRecord>> load_canary_history() = 0;
  // Adds the record unless one for the same (flag, variant) exists: the first sighting wins, so
  // a later call never moves first_seen_ms (returns false then).
  virtual Result<bool> record_canary(const CanaryRecord& r) = 0;
};

struct OpenReport {
  bool created = false;    // the file did not exist
  bool recovered = false;  // the file was corrupt (or not a database): moved aside, rebuilt
  std::string moved_to;    // where the corrupt file went
  std::string detail;      // what was wrong with it
};

// Opens or creates the SQLite cache at `path` (WAL, synchronous=NORMAL, busy timeout), running
// schema migrations. A corrupt file is renamed to "<path>.corrupt-<unix_ms>" and a new one is
// created; `report` says so. Fails only when no usable database can be had at all (e.g. the
// directory is not writable and the file does not exist).
Result<std::unique_ptr<Store>> open_sqlite(const std::string& path, std::int64_t now_unix_ms,
                                           OpenReport* report = nullptr);

}  // namespace ff::store
