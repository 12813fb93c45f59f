// Rule-engine throughput, to compare with @openfeature/flagd-core (bench/node/bench.mjs).
//
// Four workloads over the same inputs as the node side (bench/data/, written by
// bench/node/gen-data.mjs), each cycling through the same 1,000 pre-parsed contexts:
//   targeted_bool    Engine::resolve of one `if`/`==` boolean flag   (items = evaluations)
//   fractional_4     Engine::resolve of a 4-way fractional flag      (items = evaluations)
//   semver           Engine::resolve of a sem_ver gate               (items = evaluations)
//   resolve_all_100  Engine::resolve_all over 100 mixed flags        (items = resolve_all calls)
// Rates use wall-clock time (UseRealTime), as the node side does; cpu_time is the process's CPU
// time, as the node side's cpu_evals_per_s.
//
// Extra flags, before Google Benchmark's own:
//   --data_dir=DIR  inputs (default: the source tree's bench/data)
//   --check         print, per workload, how often each "flag=variant/REASON" came out over one
//                   pass of the contexts, as `node bench.mjs --check` does, and exit
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/eval/resolver.h"
#include "common/flags/model.h"
#include "common/json/json.h"

#ifndef FF_BENCH_DATA_DIR
#define FF_BENCH_DATA_DIR "bench/data"
#endif

namespace {

using ff::Json;
using ff::eval::Engine;
using ff::eval::Resolution;
using ff::eval::ValueType;

// $flagd.timestamp for every evaluation; no benchmark rule reads it.
constexpr std::int64_t kNow = 1767225600;

struct Inputs {
  std::vector<Json> contexts;
  std::optional<Engine> single;
  std::optional<Engine> mixed;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bench_engine: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Engine load_engine(const std::string& path) {
  const std::string text = read_file(path);
  auto set = ff::flags::load(std::string_view(text));
  if (!set) {
    std::fprintf(stderr, "bench_engine: %s: %s\n", path.c_str(), set.error().to_string().c_str());
    std::exit(2);
  }
  Engine engine(std::move(*set));
  for (const auto& e : engine.compile_errors()) {
    std::fprintf(stderr, "bench_engine: %s: %s\n", path.c_str(), e.c_str());
    std::exit(2);
  }
  return engine;
}

Inputs load_inputs(const std::string& dir) {
  Inputs in;
  auto contexts = ff::json::parse(read_file(dir + "/contexts.json"));
  if (!contexts || !contexts->is_array() || contexts->empty()) {
    std::fprintf(stderr, "bench_engine: %s/contexts.json is not a non-empty array\n", dir.c_str());
    std::exit(2);
  }
  for (auto& c : *contexts) in.contexts.push_back(std::move(c));
  in.single.emplace(load_engine(dir + "/single.json"));
  in.mixed.emplace(load_engine(dir + "/mixed100.json"));
  return in;
}

struct Workload {
  const char* name;
  const char* flag_key;  // nullptr: resolve_all over the mixed set
  ValueType type;
};

constexpr Workload kWorkloads[] = {
    {"targeted_bool", "targeted-bool", ValueType::kBoolean},
    {"fractional_4", "fractional-4", ValueType::kString},
    {"semver", "semver-gate", ValueType::kString},
    {"resolve_all_100", nullptr, ValueType::kObject},
};

void bm_resolve(benchmark::State& state, const Inputs* in, const Workload* w) {
  const Engine& engine = *in->single;
  const std::vector<Json>& contexts = in->contexts;
  const std::string_view key = w->flag_key;
  const Resolution probe = engine.resolve(key, contexts.front(), kNow, w->type);
  if (probe.reason == ff::eval::Reason::kError) {
    state.SkipWithError(("resolution failed: " + probe.error_details).c_str());
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    Resolution r = engine.resolve(key, contexts[i], kNow, w->type);
    benchmark::DoNotOptimize(r.variant);
    if (++i == contexts.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void bm_resolve_all(benchmark::State& state, const Inputs* in) {
  const Engine& engine = *in->mixed;
  const std::vector<Json>& contexts = in->contexts;
  std::vector<Resolution> out;
  out.reserve(engine.size());
  std::size_t i = 0;
  for (auto _ : state) {
    out.clear();
    engine.resolve_all(contexts[i], kNow, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    if (++i == contexts.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["flag_evals_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(engine.size()),
      benchmark::Counter::kIsRate);
}

// Same key format and filter as bench.mjs's histogram(): results with a value, not DISABLED.
void count(const Resolution& r, Json& counts) {
  if (r.value == nullptr || r.reason == ff::eval::Reason::kDisabled) return;
  std::string k = std::string(r.key) + "=" + *r.variant + "/" + ff::eval::to_string(r.reason);
  Json& n = counts[k];
  n = n.is_null() ? 1 : n.get<int>() + 1;
}

int run_check(const Inputs& in) {
  Json out = Json::object();
  std::vector<Resolution> all;
  for (const Workload& w : kWorkloads) {
    Json counts = Json::object();
    for (const Json& ctx : in.contexts) {
      if (w.flag_key != nullptr) {
        count(in.single->resolve(w.flag_key, ctx, kNow, w.type), counts);
      } else {
        all.clear();
        in.mixed->resolve_all(ctx, kNow, all);
        for (const Resolution& r : all) count(r, counts);
      }
    }
    out[w.name] = std::move(counts);
  }
  std::cout << Json{{"side", "fleetflag"}, {"check", std::move(out)}}.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = FF_BENCH_DATA_DIR;
  bool check = false;
  // Strip our flags before Google Benchmark sees (and rejects) them.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--data_dir=")) {
      data_dir = std::string(a.substr(std::strlen("--data_dir=")));
    } else if (a == "--check") {
      check = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;

  const Inputs in = load_inputs(data_dir);
  if (check) return run_check(in);

  for (const Workload& w : kWorkloads) {
    auto* b = w.flag_key != nullptr ? benchmark::RegisterBenchmark(w.name, bm_resolve, &in, &w)
                                    : benchmark::RegisterBenchmark(w.name, bm_resolve_all, &in);
    b->UseRealTime()->MeasureProcessCPUTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
