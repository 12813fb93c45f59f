// Offline CLI subcommands: they need no agent and no network.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace ff::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;  // the input was read but is invalid / false / unknown
inline constexpr int kExitUsage = 2;    // bad arguments, unreadable file, unusable definitions

// `fleetflag validate FILE`: strict schema validation. Prints "FILE: valid" or one
// "FILE:POINTER: reason" line per violation.
int run_validate(const std::string& file, std::ostream& out, std::ostream& err);

struct EvalOptions {
  std::string flags_file;
  std::optional<std::string> flag;      // single-flag body instead of bulk
  std::int64_t now = 0;                 // $flagd.timestamp
  std::optional<std::string> context;   // inline JSON or @FILE
  std::optional<std::string> contexts;  // JSONL file, one context per line
  bool pretty = false;
  // With --contexts: instead of one body per line, print per flag how many contexts got each
  // variant (or reason/error) — the size of each rollout wave across a fleet inventory.
  bool summary = false;
};

// `fleetflag eval`: OFREP-shaped results for one context (bulk body, or single-flag body with
// --flag) or, with --contexts, one compact body per non-blank input line, in order. A line that
// is not a JSON object yields {"errorCode":"INVALID_CONTEXT",...} in its place (exit 1).
int run_eval(const EvalOptions& options, std::ostream& out, std::ostream& err);

// Reads a whole file under a size limit. nullopt (and a message in `error`) on failure.
std::optional<std::string> read_file(const std::string& path, std::string& error,
                                     std::size_t limit = 64u << 20);

}  // namespace ff::cli
