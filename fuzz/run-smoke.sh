#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS over a scratch copy of its committed seed corpus
# (fuzz/corpus/<target>/ is never written), with fuzz/json.dict. Exits non-zero if any target
# crashes, leaks, times out or is missing; crash inputs are kept under
# ${FF_FUZZ_ARTIFACTS:-BUILD_DIR/fuzz-artifacts}/<target>/ with the command to replay them.
#
# Usage: fuzz/run-smoke.sh BUILD_DIR SECONDS
#   BUILD_DIR: a build configured with FF_BUILD_FUZZ=ON, e.g. `cmake --preset fuzz` (build/fuzz)
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build="$(cd "$1" && pwd)"
seconds="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
artifacts="${FF_FUZZ_ARTIFACTS:-$build/fuzz-artifacts}"
targets=(fuzz_definitions fuzz_json fuzz_validate fuzz_rule fuzz_api_request fuzz_upstream)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "FAIL $t: $bin not built (configure with -DFF_BUILD_FUZZ=ON, clang)" >&2
    status=1
    continue
  fi
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp "$here/corpus/$t/"* "$work/$t/corpus/"
  log="$work/$t/log"
  if "$bin" "$work/$t/corpus" \
      -dict="$here/json.dict" \
      -max_total_time="$seconds" \
      -timeout=10 \
      -rss_limit_mb=2048 \
      -print_final_stats=1 \
      -artifact_prefix="$work/$t/artifacts/" >"$log" 2>&1; then
    runs="$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)"
    echo "ok   $t: ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}"
  else
    rc=$?
    status=1
    echo "FAIL $t (exit $rc); last lines of its log:" >&2
    tail -n 60 "$log" >&2
    mkdir -p "$artifacts/$t"
    cp "$work/$t/artifacts/"* "$artifacts/$t/" 2>/dev/null || true
    cp "$log" "$artifacts/$t/log.txt"
    for a in "$artifacts/$t/"*; do
      case "$a" in *log.txt) continue ;; esac
      echo "  replay: $bin $a" >&2
    done
  fi
done
exit "$status"
