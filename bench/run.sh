#!/usr/bin/env bash
# Rule-engine benchmark: fleetflag (bench_engine) vs @openfeature/flagd-core (bench/node), same
# flags and contexts (bench/data/), alternating A/B runs, table of medians with min-max.
#
# Usage: bench/run.sh [ROUNDS] [SECONDS]
#   ROUNDS   A/B rounds (default 5, at least 3)
#   SECONDS  measuring time per workload and side (default 2; node warms up 1 s first)
# Environment:
#   FF_BENCH_BUILD_DIR  release build directory (default: build/bench-release)
#   FF_BENCH_PIN        CPU list for taskset (e.g. 0) to pin both sides; default unpinned
#   FF_BENCH_OUT        keep raw outputs in this directory (default: a temporary one)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
rounds="${1:-5}"
seconds="${2:-2}"
build="${FF_BENCH_BUILD_DIR:-$repo/build/bench-release}"

if [ "$rounds" -lt 3 ]; then
  echo "run.sh: need at least 3 rounds" >&2
  exit 2
fi

pin=()
if [ -n "${FF_BENCH_PIN:-}" ]; then
  pin=(taskset -c "$FF_BENCH_PIN")
fi

echo "== build (Release) in $build" >&2
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFF_BUILD_TESTS=OFF -DFF_BUILD_BENCH=ON -DFF_BUILD_FUZZ=OFF >/dev/null
cmake --build "$build" --target bench_engine >&2
bin="$build/bench/bench_engine"

echo "== node dependencies" >&2
if [ ! -d "$here/node/node_modules/@openfeature/flagd-core" ]; then
  (cd "$here/node" && npm ci --no-audit --no-fund >&2)
fi
node "$here/node/gen-data.mjs" --check

if [ -n "${FF_BENCH_OUT:-}" ]; then
  out="$FF_BENCH_OUT"
  mkdir -p "$out"
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi

echo "== same results on both sides?" >&2
"$bin" --check >"$out/check-ff.json"
node "$here/node/bench.mjs" --check >"$out/check-node.json"
node "$here/node/report.mjs" check "$out/check-ff.json" "$out/check-node.json"

for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds: fleetflag" >&2
  "${pin[@]}" "$bin" --benchmark_min_time="$seconds" --benchmark_format=json \
    >"$out/ff-$r.json"
  echo "== round $r/$rounds: flagd-core" >&2
  "${pin[@]}" node "$here/node/bench.mjs" --seconds "$seconds" --warmup 1 \
    >"$out/node-$r.jsonl"
done

echo
echo "Command: bench/run.sh $rounds $seconds${FF_BENCH_PIN:+ (FF_BENCH_PIN=$FF_BENCH_PIN)}"
echo "Host: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
  "node $(node --version), $(date -u +%Y-%m-%d)"
echo
node "$here/node/report.mjs" table "$out"
