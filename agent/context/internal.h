// Pieces of ContextBuilder, separated so each can be tested and read on its own. Not part of
// the public API: only agent/context and its tests include this.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "agent/context/context.h"
#include "common/json/json.h"

namespace ff::context::detail {

// Reads at most `max_bytes` + 1 bytes of `path` (so callers can tell "too large" apart). Empty
// optional-like Result on any failure: code "missing" (ENOENT/ENOTDIR), "io" otherwise.
Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 64 * 1024);

// Built-in facts: the `host` object (see facts.cpp for the exact keys). Never fails: a fact
// whose source is missing or unreadable, or that was not detected, is left out.
Json read_host_facts(const std::string& root);

// The machine-id at root + path when it is 32 hex digits (lower-cased), else "".
std::string read_machine_id(const std::string& root, const std::string& path);

// os-release parsing (shell-like KEY=value lines, quotes and backslash escapes).
Json parse_os_release(std::string_view text);

// One problem found while building: becomes {"source","message","at"} in HostContext::errors.
struct Problem {
  std::string source;
  std::string message;
};

// One named set of top-level attributes, in merge order.
struct Layer {
  std::string source;  // "config", "context.d/<file>", "provider:<name>"
  Json values = Json::object();
};

// Loads context_dir: one Layer per readable file that holds an object, sorted by file name.
// Files that fail (too large, unparsable, not an object) yield a Problem and no Layer. A missing
// directory is not a problem (nothing configured).
void load_context_dir(const std::string& dir, std::vector<Layer>& layers,
                      std::vector<Problem>& problems);

// YAML text -> JSON (YAML 1.2 core schema for plain scalars: null/~/empty, true/false in three
// spellings, decimal/0x/0o integers that fit int64, decimal floats; quoted or !!str-tagged
// scalars stay strings; .inf/.nan and anything else become strings). Mapping keys become
// strings. Errors: "invalid_yaml", "too_deep".
Result<Json> yaml_to_json(const std::string& text, std::size_t max_depth);

// Provider file names that are skipped whatever their mode (dotfiles, backups, .conf).
bool skipped_provider_name(std::string_view name);
// Executable regular files of `dir` that are not skipped, sorted. Missing dir: empty.
std::vector<std::string> list_providers(const std::string& dir);

struct ProviderJob {
  std::string name;
  std::string path;
  ProviderOptions options;
};

struct ProviderOutcome {
  bool ok = false;
  Json value;           // the object printed, when ok
  std::string message;  // why not, when !ok
};

// Starts every job at once and waits for all of them; returns one outcome per job, same order.
// Bounded by the largest timeout among the jobs (plus reaping SIGKILLed groups). Every child is
// reaped before this returns.
std::vector<ProviderOutcome> run_providers(const std::vector<ProviderJob>& jobs);

// Resolves a zone name (configured or host) to the tz database's canonical spelling.
// Error "unknown_time_zone" when the database does not know it.
Result<std::string> resolve_zone(const std::string& name);

// RFC 3339 UTC, second precision: "2026-03-29T01:59:59Z".
std::string utc_timestamp(std::chrono::system_clock::time_point t);

}  // namespace ff::context::detail
