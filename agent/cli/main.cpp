// fleetflag: command-line client. Thin wiring of CLI11 onto agent/cli's subcommands.
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "agent/cli/offline.h"
#include "agent/cli/online.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"fleetflag: staggered fleet rollouts driven by OpenFeature flagd flags"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fleetflag 0.1.0");

  std::string validate_file;
  auto* validate = app.add_subcommand("validate", "Strictly validate a flagd definitions file");
  validate->add_option("FILE", validate_file, "flagd flag definitions (JSON)")->required();

  ff::cli::EvalOptions eo;
  std::optional<std::int64_t> now;
  std::string context;
  std::string contexts;
  std::string flag;
  auto* ev = app.add_subcommand("eval", "Evaluate flag definitions offline (OFREP-shaped output)");
  ev->add_option("--flags", eo.flags_file, "flagd flag definitions (JSON)")->required();
  ev->add_option("--flag", flag, "evaluate only this flag (single-flag OFREP body)");
  ev->add_option("--now", now, "Unix seconds for $flagd.timestamp (default: now)");
  auto* c1 = ev->add_option("--context", context, "context as JSON, or @FILE");
  auto* c2 = ev->add_option("--contexts", contexts, "JSONL file: one context per line");
  c1->excludes(c2);
  ev->add_flag("--pretty", eo.pretty, "indent the output");
  ev->add_flag("--summary", eo.summary, "with --contexts: count contexts per variant and flag");

  std::string socket = ff::cli::kDefaultSocket;
  app.add_option("--socket", socket, "the agent's Unix socket")->capture_default_str();
  std::string key;
  std::string default_value;
  bool json = false;
  auto* get = app.add_subcommand("get", "Print one flag's value for this host");
  get->add_option("KEY", key, "flag key")->required();
  auto* get_default = get->add_option("--default", default_value, "value to print when unknown");
  get->add_flag("--json", json, "print the whole flag answer as JSON");
  auto* enabled = app.add_subcommand("enabled", "Exit 0 if the flag is true, 1 if not, 2 unknown");
  enabled->add_option("KEY", key, "flag key")->required();
  auto* list = app.add_subcommand("list", "List all flags for this host");
  list->add_flag("--json", json, "raw JSON");
  auto* status = app.add_subcommand("status", "Agent and upstream status");
  status->add_flag("--json", json, "raw JSON");
  auto* ctx_cmd = app.add_subcommand("context", "The host's evaluation context");
  ctx_cmd->add_flag("--json", json, "raw JSON");
  unsigned max_changes = 0;
  auto* watch = app.add_subcommand("watch", "Print flag changes as they happen");
  watch->add_option("KEY", key, "only this flag");
  watch->add_option("--count", max_changes, "exit after this many changes");
  for (auto* sub : {get, enabled, list, status, ctx_cmd, watch}) {
    sub->add_option("--socket", socket, "the agent's Unix socket");
  }

  CLI11_PARSE(app, argc, argv);

  if (get->parsed()) {
    return ff::cli::run_get(
        socket, key,
        get_default->count() ? std::optional<std::string>(default_value) : std::nullopt, json,
        std::cout, std::cerr);
  }
  if (enabled->parsed()) return ff::cli::run_enabled(socket, key, std::cerr);
  if (list->parsed()) return ff::cli::run_list(socket, json, std::cout, std::cerr);
  if (status->parsed()) return ff::cli::run_status(socket, json, std::cout, std::cerr);
  if (ctx_cmd->parsed()) return ff::cli::run_context(socket, json, std::cout, std::cerr);
  if (watch->parsed()) {
    return ff::cli::run_watch(socket, key.empty() ? std::nullopt : std::optional<std::string>(key),
                              max_changes, std::cout, std::cerr);
  }

  if (validate->parsed()) return ff::cli::run_validate(validate_file, std::cout, std::cerr);
  if (ev->parsed()) {
    if (!flag.empty()) eo.flag = flag;
    if (c1->count() > 0) eo.context = context;
    if (c2->count() > 0) eo.contexts = contexts;
    eo.now = now ? *now
                 : std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    return ff::cli::run_eval(eo, std::cout, std::cerr);
  }
  return ff::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fleetflag: fatal: " << e.what() << "\n";
    return ff::cli::kExitUsage;
  }
}
