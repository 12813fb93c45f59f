// CLI subcommands that ask a running agent over its Unix socket.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "common/json/json.h"

namespace ff::cli {

inline constexpr const char* kDefaultSocket = "/run/fleetflag/fleetflag.sock";

// Prints the flag's value: strings raw, anything else as JSON. Without a value (unknown flag,
// error, no default variant, agent unreachable) prints `default_value` when given (exit 0),
// else reports on stderr and exits 2. A stale answer is noted on stderr.
int run_get(const std::string& socket, const std::string& key,
            const std::optional<std::string>& default_value, bool json, std::ostream& out,
            std::ostream& err);
// Exit 0 when the flag's value is boolean true, 1 when it has any other value, 2 when unknown
// or on error: `if fleetflag enabled new-kernel; then ...`.
int run_enabled(const std::string& socket, const std::string& key, std::ostream& err);
// A table of all flags (or the raw JSON with `json`).
int run_list(const std::string& socket, bool json, std::ostream& out, std::ostream& err);
int run_status(const std::string& socket, bool json, std::ostream& out, std::ostream& err);
// The host's context as a table of attribute (dotted path), value and source, then the context
// errors (files, providers); the raw /v1/context JSON with `json`.
int run_context(const std::string& socket, bool json, std::ostream& out, std::ostream& err);
// The table run_context prints for a /v1/context body {"context","sources","errors"}.
void print_context(const Json& view, std::ostream& out);
// Prints one line per change (of `key`, or of any flag), using blocking queries; runs until
// the agent goes away (exit 2) or `max_changes` changes were printed (0 = forever).
int run_watch(const std::string& socket, const std::optional<std::string>& key,
              unsigned max_changes, std::ostream& out, std::ostream& err);

}  // namespace ff::cli
