// fleetflag: command-line client. Thin wiring of CLI11 onto agent/cli's subcommands.
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "agent/cli/offline.h"

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

  CLI11_PARSE(app, argc, argv);

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
