#include "agent/cli/offline.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <vector>

#include "common/eval/ofrep.h"
#include "common/flags/validate.h"

namespace ff::cli {

std::optional<std::string> read_file(const std::string& path, std::string& error,
                                     std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path;
    return std::nullopt;
  }
  std::string data;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > limit) {
      error = path + " is larger than " + std::to_string(limit) + " bytes";
      return std::nullopt;
    }
  }
  if (in.bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return data;
}

int run_validate(const std::string& file, std::ostream& out, std::ostream& err) {
  std::string error;
  const auto text = read_file(file, error);
  if (!text) {
    err << "fleetflag: " << error << "\n";
    return kExitUsage;
  }
  const auto violations = flags::validate_text(*text);
  if (violations.empty()) {
    out << file << ": valid\n";
    return kExitOk;
  }
  for (const auto& v : violations) {
    out << file << ":" << (v.path.empty() ? "/" : v.path) << ": " << v.reason << "\n";
  }
  out << file << ": " << violations.size() << " error" << (violations.size() == 1 ? "" : "s")
      << "\n";
  return kExitInvalid;
}

namespace {

Json invalid_context(const std::string& details) {
  return Json{{"errorCode", "INVALID_CONTEXT"}, {"errorDetails", details}};
}

// Evaluates one context; returns false when the context itself is unusable.
bool eval_one(const eval::Engine& engine, const EvalOptions& o, const Json& context, Json& body,
              std::vector<eval::Resolution>& scratch) {
  if (!context.is_object()) {
    body = invalid_context("context must be a JSON object");
    return false;
  }
  if (o.flag) {
    body = eval::to_ofrep(engine.resolve(*o.flag, context, o.now));
  } else {
    engine.resolve_all(context, o.now, scratch);
    body = eval::to_ofrep_bulk(scratch, engine.flag_set().metadata);
  }
  return true;
}

void print(std::ostream& out, const Json& body, bool pretty) {
  out << (pretty ? body.dump(2) : body.dump(-1, ' ', false, Json::error_handler_t::replace))
      << "\n";
}

}  // namespace

int run_eval(const EvalOptions& o, std::ostream& out, std::ostream& err) {
  if (o.context.has_value() == o.contexts.has_value()) {
    err << "fleetflag eval: give exactly one of --context or --contexts\n";
    return kExitUsage;
  }
  std::string error;
  const auto text = read_file(o.flags_file, error);
  if (!text) {
    err << "fleetflag: " << error << "\n";
    return kExitUsage;
  }
  auto set = flags::load(std::string_view(*text));
  if (!set) {
    err << "fleetflag: " << o.flags_file << ": " << set.error().to_string() << "\n";
    return kExitUsage;
  }
  const eval::Engine engine(std::move(*set));
  for (const auto& e : engine.compile_errors()) {
    err << "fleetflag: warning: " << o.flags_file << ": " << e << " (evaluates to PARSE_ERROR)\n";
  }

  std::vector<eval::Resolution> scratch;
  Json body;
  if (o.context) {
    std::string ctx_text = *o.context;
    if (!ctx_text.empty() && ctx_text[0] == '@') {
      const auto file = read_file(ctx_text.substr(1), error);
      if (!file) {
        err << "fleetflag: " << error << "\n";
        return kExitUsage;
      }
      ctx_text = *file;
    }
    auto ctx = json::parse(ctx_text);
    if (!ctx) {
      err << "fleetflag: --context: " << ctx.error().to_string() << "\n";
      return kExitUsage;
    }
    const bool ok = eval_one(engine, o, *ctx, body, scratch);
    print(out, body, o.pretty);
    return ok ? kExitOk : kExitInvalid;
  }

  std::ifstream in(*o.contexts, std::ios::binary);
  if (!in) {
    err << "fleetflag: cannot open " << *o.contexts << "\n";
    return kExitUsage;
  }
  int rc = kExitOk;
  std::string line;
  std::size_t lineno = 0;
  std::size_t hosts = 0;
  // flag -> outcome ("variant" or "REASON" or "ERROR:CODE") -> count
  std::map<std::string, std::map<std::string, std::size_t>> waves;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto ctx = json::parse(line);
    if (!ctx) {
      body = invalid_context("line " + std::to_string(lineno) + ": " + ctx.error().to_string());
      rc = kExitInvalid;
    } else if (!eval_one(engine, o, *ctx, body, scratch)) {
      rc = kExitInvalid;
    } else if (o.summary) {
      ++hosts;
      const Json& items = o.flag ? Json::array({body}) : body["flags"];
      for (const auto& f : items) {
        std::string outcome;
        if (f.contains("errorCode")) {
          outcome = "ERROR:" + f["errorCode"].get<std::string>();
        } else if (f.contains("variant")) {
          outcome = f["variant"].get<std::string>();
        } else {
          outcome = "(" + f["reason"].get<std::string>() + ", no value)";
        }
        ++waves[f["key"].get<std::string>()][outcome];
      }
      continue;
    }
    print(out, body, o.pretty);
  }
  if (o.summary) {
    out << hosts << " contexts evaluated\n";
    for (const auto& [flag, outcomes] : waves) {
      out << flag << "\n";
      for (const auto& [outcome, count] : outcomes) {
        const double pct =
            hosts ? 100.0 * static_cast<double>(count) / static_cast<double>(hosts) : 0;
        char line_buf[256];
        std::snprintf(line_buf, sizeof line_buf, "  %-28s %8zu  %5.1f%%\n", outcome.c_str(), count,
                      pct);
        out << line_buf;
      }
    }
  }
  return rc;
}

}  // namespace ff::cli
