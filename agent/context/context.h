// The host's evaluation context: targetingKey, built-in facts, static attributes (agent.yaml and
// context.d files), executable providers and time fields, each attribute with its provenance.
//
// Contract with agent/app (which owns canary-fatigue fields, see Agent):
//  - Top-level keys `targetingKey`, `host`, `time` and `canary` are reserved. `host` holds the
//    built-in facts, `time` the change-window fields, `canary` the fatigue fields (added by the
//    agent). An attribute file, the config or a provider that tries to set a reserved key is
//    refused for that key (an error in `errors`), never merged.
//  - ContextBuilder never throws after construction and never blocks longer than the slowest
//    provider's timeout. A failing provider keeps its last good value and reports the failure.
//    Worst cases: refresh() = the largest timeout among the due providers (+ reaping);
//    create()/reload() = that over all providers + reading facts, which on a real host (empty
//    root) includes one getaddrinfo() for the FQDN when /etc/hosts does not name it (bounded by
//    the resolver's timeout). A refresh() and a reload() racing each other run one after the
//    other, so the second caller may wait for both.
//  - Time is read only from the injected Clock. Provider timeouts are real (monotonic) time: a
//    hung process does not wait for a FakeClock; TTLs and retries use Clock::steady().
//
// Merge order (later wins, top-level keys, shallow): built-in facts (`host`, `targetingKey`) are
// fixed; then `ContextOptions::attributes` (source "config"), then context.d files in byte order of
// their names (source "context.d/<file>"), then providers in byte order of their names (source
// "provider:<name>"). Every override is logged (spdlog info) and listed in
// HostContext::overridden. `time` is computed per current() call.
//
// Thread-safety: current(), next_refresh() may be called from any thread at any time, also while
// refresh()/reload() run (they see the previous or the new context, never a mix). refresh() and
// reload() are serialised internally; providers run without holding the lock current() takes.
//
// Providers (providers_dir): every executable regular file (symlinks followed) except dotfiles
// and package-manager/editor leftovers (`*~`, `*.dpkg-*`, `*.rpmnew`, `*.rpmsave`, `*.rpmorig`,
// `*.ucf-*`, `*.bak`, `*.swp`, `*.orig`, `*.disabled`, `*.conf`). Each is spawned without a shell
// (posix_spawn, argv = {path}), cwd "/", stdin /dev/null, stderr captured (first 4 KiB, shown in
// the error), signal mask and dispositions reset, fds >= 3 closed, environment exactly
// PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8,
// FLEETFLAG_PROVIDER=<name> plus ProviderOptions::env, in its own process group. All due
// providers start together and are waited for together (poll), so one refresh()/reload()/create()
// takes at most the largest timeout of the providers it runs (plus a reap). Past its timeout or
// its output limit a provider's whole process group gets SIGKILL and is reaped; when the
// provider itself exits, whatever it left in its group is killed too. Success = exit status 0
// and stdout is one JSON object (depth <= 32). Anything else keeps the last good value, puts
// {"source":"provider:<name>","message","at"} in `errors` and retries after min(ttl, retry).
// The set of providers and context.d files is read at create() and reload() only. Children are
// reaped by pid: the process must not set SIGCHLD to SIG_IGN nor reap with waitpid(-1).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "agent/state/clock.h"
#include "common/json/json.h"

namespace ff::context {

struct ProviderOptions {
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds ttl{300000};   // how long a good answer is reused
  std::size_t max_output = 64 * 1024;      // bytes of stdout; more is a failure
  std::chrono::milliseconds retry{60000};  // after a failure, rerun after min(ttl, retry)
  std::map<std::string, std::string> env;  // added to the provider's fixed environment
};

struct ContextOptions {
  std::string targeting_key;  // empty: machine-id, else the FQDN (else the hostname)
  std::string machine_id_path = "/etc/machine-id";  // read under `root`; 32 hex digits or unused
  // Prefix for every built-in fact source (/etc/os-release, /proc, /sys, ...): "" on a host,
  // a temp dir in tests. With a non-empty root nothing is taken from syscalls or the process
  // environment (no uname(), no DNS, no TZ): a missing file means a missing fact.
  std::string root;
  Json attributes = Json::object();  // `context.attributes` of agent.yaml
  // *.json, *.yaml, *.yml (not dotfiles), each at most kMaxAttributeFileBytes; must hold one
  // object (an empty YAML file counts as {}). Not prefixed by `root`.
  std::string context_dir = "/etc/fleetflag/context.d";
  std::string providers_dir = "/etc/fleetflag/providers.d";  // not prefixed by `root`
  ProviderOptions provider_defaults;
  // Per provider file name; an entry replaces provider_defaults as a whole (whoever fills it,
  // e.g. the config loader, starts from the defaults).
  std::map<std::string, ProviderOptions> providers;
  // IANA name; empty: the host's zone: $TZ (only with an empty root; ":" prefix and
  // .../zoneinfo/ paths accepted), else the target of the /etc/localtime symlink, else
  // /etc/timezone, else UTC. A zone that is named but unknown is an error.
  std::string time_zone;
  // create()/reload() leave the providers for the first refresh() (next_refresh() is then
  // "now") instead of running them: the agent starts serving its cache without waiting up to a
  // provider's timeout, and runs them first thing on its sync thread.
  bool defer_providers = false;
};

// Reserved top-level keys (see above).
inline constexpr const char* kReservedKeys[] = {"targetingKey", "host", "time", "canary"};
bool is_reserved_key(const std::string& key);
inline constexpr std::size_t kMaxAttributeFileBytes = 1u << 20;

struct HostContext {
  Json context = Json::object();  // what rules see (time fields included)
  // Attribute -> where it came from: "builtin", "config", "context.d/<file>",
  // "provider:<name>", "time", "canary". Keys are top-level names, or dotted for `host.*`.
  Json sources = Json::object();
  Json errors = Json::array();  // [{"source","message","at"}] current problems (files, providers)
  // Attribute -> the sources it replaced, earliest first (only attributes set more than once).
  Json overridden = Json::object();
  std::string time_zone;  // the zone the time fields are computed in
  // Changes whenever `context` minus the time fields changes (so callers can re-sync at once).
  std::uint64_t generation = 0;
};

// Change-window fields for `now` in `zone`: {"zone","unix","date":"YYYY-MM-DD","weekday":"tue",
// "isoWeekday":2,"hour","minute","minuteOfDay"}. Unknown zone: an error, never a silent UTC.
Result<Json> time_fields(const std::string& zone, std::chrono::system_clock::time_point now);

// The zone `ContextOptions::time_zone` would resolve to when empty, read under `root` (see
// there). Never fails: returns "UTC" when nothing names a zone.
std::string host_time_zone(const std::string& root);

class ContextBuilder {
 public:
  // Reads facts, files and runs every provider once. Only a bad time zone is an error.
  static Result<std::unique_ptr<ContextBuilder>> create(ContextOptions options, const Clock& clock);
  virtual ~ContextBuilder() = default;

  // SIGHUP: re-reads facts and files with new options, reruns providers. Errors are kept in
  // `errors`; the previous values of a file that became unreadable are dropped (the operator
  // removed or broke it), those of a failing provider are kept, those of a provider file that
  // is gone are dropped. Returns whether the context changed. An unknown time zone is an error
  // and leaves everything (options, context) as it was.
  virtual Result<bool> reload(ContextOptions options) = 0;
  // Runs the providers whose TTL has run out. Returns true when the context changed.
  virtual bool refresh() = 0;
  // The context now (time fields for the clock's current time).
  virtual HostContext current() const = 0;
  // When refresh() next has work to do (may be in the past); time_point::max() without providers.
  virtual std::chrono::steady_clock::time_point next_refresh() const = 0;
};

}  // namespace ff::context
