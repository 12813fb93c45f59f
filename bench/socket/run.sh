#!/usr/bin/env bash
# Socket API and agent-footprint benchmark (docs/benchmarks.md, "Socket API" and "Agent
# footprint"):
#   1. GET /v1/flags/{key} over the Unix socket, keep-alive, 1 and 32 connections: fleetflagd vs
#      epoll_baseline (a minimal C epoll server answering the same bytes), alternating A/B,
#      unpinned, both on CPU 0, server on CPU 0 and client on CPU 1; loadgen (p50/p99) and
#      h2load (requests/s) as a second client.
#   2. RSS of fleetflagd with 1,000 flags cached (definitions and ofrep mode).
#   3. Time from exec to the first 200 answer from cache with the upstream unreachable.
#
# Usage: bench/socket/run.sh [ROUNDS] [SECONDS]
#   ROUNDS   A/B rounds per configuration (default 3, at least 3)
#   SECONDS  measuring time per run (default 2; 0.5 s of warm-up before it)
# Environment:
#   FF_SOCKBENCH_BUILD_DIR  Release build directory (default: build/bench-socket)
#   FF_SOCKBENCH_FFD        use this fleetflagd binary instead of building one
#   FF_SOCKBENCH_PHASES     subset of "socket rss startup" (default: all three)
#   FF_SOCKBENCH_STARTS     starts per mode in phase 3 (default 10)
#   FF_SOCKBENCH_OUT        keep raw outputs in this directory (default: a temporary one)
#
# Everything runs on this machine: Unix sockets and a node test server on 127.0.0.1. Every loop
# is bounded; every process started here is stopped by PID on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rounds="${1:-3}"
seconds="${2:-2}"
build="${FF_SOCKBENCH_BUILD_DIR:-$repo/build/bench-socket}"
phases="${FF_SOCKBENCH_PHASES:-socket rss startup}"
starts="${FF_SOCKBENCH_STARTS:-10}"

if [ "$rounds" -lt 3 ]; then
  echo "run.sh: need at least 3 rounds" >&2
  exit 2
fi
for tool in taskset node; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done
have_h2load=1
if ! command -v h2load >/dev/null; then
  have_h2load=0
  echo "run.sh: no h2load (apt-get install nghttp2-client); loadgen only" >&2
fi

# ---------------------------------------------------------------------------------------------
if [ -n "${FF_SOCKBENCH_FFD:-}" ]; then
  ffd="$FF_SOCKBENCH_FFD"
  echo "== using $ffd (no build)" >&2
else
  echo "== build (Release) in $build" >&2
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFF_BUILD_TESTS=OFF \
    -DFF_BUILD_BENCH=OFF -DFF_BUILD_FUZZ=OFF >/dev/null
  cmake --build "$build" --target fleetflagd >&2
  ffd="$build/agent/app/fleetflagd"
fi
tools="$build/bench-socket-tools"
mkdir -p "$tools"
for t in epoll_baseline loadgen; do
  cc -O2 -std=c11 -Wall -Wextra -o "$tools/$t" "$here/$t.c"
done
loadgen="$tools/loadgen"
baseline="$tools/epoll_baseline"

# Short paths: sun_path holds 107 bytes.
work="$(mktemp -d /tmp/ffsb.XXXXXX)"
out="${FF_SOCKBENCH_OUT:-$work/out}"
mkdir -p "$out"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"  # raw outputs are in $work/out unless FF_SOCKBENCH_OUT put them elsewhere
}
trap cleanup EXIT
mkdir -p "$work/sock"

# SIGTERM, then wait (fleetflagd drains for at most 5 s); forgets the PID so that cleanup never
# signals a number the system may have handed to another process since.
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# Waits (at most 20 s) until GET $2 on socket $1 answers 200 and the answer contains $3.
wait_answer() {
  local i
  for ((i = 0; i < 200; ++i)); do
    if "$loadgen" capture "$1" "$2" "$work/probe" 2>/dev/null && grep -q -- "$3" "$work/probe"; then
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: no answer containing $3 from $1 $2" >&2
  return 1
}

# "median (min-max)" of the numbers on stdin; with argument k, in thousands.
summary() {
  sort -g | awk -v k="${1:-}" '{v[NR] = $1} END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s (%s-%s)", fmt(m), fmt(v[1]), fmt(v[NR]) }
    function fmt(x) {
      if (k == "k") return sprintf("%.1fk", x / 1000)
      return x >= 100 ? sprintf("%.0f", x) : (x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }'
}
median() {
  sort -g | awk '{v[NR] = $1}
    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p"; }  # value of KEY=N in a line

# CPU time (us) used so far by all live threads of process $1.
cpu_us() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s / 1000}'
}
kib() { awk -v k="$1" '$1 == k ":" {print $2}' "/proc/$2/status"; }
mib() { awk -v x="$1" 'BEGIN {printf "%.1f", x / 1024}'; }

echo "# machine: $(nproc) vCPU, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
tree="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
if git -C "$repo" status --porcelain -- agent common 2>/dev/null | grep -q .; then
  tree+=" + uncommitted changes in agent/ common/"
fi
echo "# fleetflagd: $ffd (built $(date -u -r "$ffd" +%H:%MZ)); tree now at $tree"
echo "# run at $(date -u +%Y-%m-%dT%H:%MZ)"

# ---------------------------------------------------------------------------------------------
if [[ " $phases " == *" socket "* ]]; then
  echo
  echo "## 1. GET /v1/flags/{key} over the Unix socket (keep-alive)"
  key=new-ui
  cat >"$work/flags1.json" <<'EOF'
{"flags":{"new-ui":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off",
"targeting":{"if":[{"==":[{"var":"tier"},"internal"]},"on","off"]}}}}
EOF
  ff_sock="$work/sock/ff.sock"
  base_sock="$work/sock/base.sock"
  "$ffd" --mode definitions --url "$work/flags1.json" --socket "$ff_sock" \
    --state-dir "$work/state1" >"$out/agent-socket.log" 2>&1 &
  ff_pid=$!
  pids+=("$ff_pid")
  wait_answer "$ff_sock" "/v1/flags/$key" '"source":"live"'
  "$loadgen" capture "$ff_sock" "/v1/flags/$key" "$out/response.bin" 2>/dev/null
  "$baseline" "$base_sock" "$out/response.bin" 2>"$out/baseline.log" &
  base_pid=$!
  pids+=("$base_pid")
  wait_answer "$base_sock" "/v1/flags/$key" '"source":"live"'
  if ! cmp -s "$work/probe" "$out/response.bin"; then
    echo "run.sh: baseline answers other bytes" >&2
    exit 1
  fi
  echo "# response: $(wc -c <"$out/response.bin") bytes (head + body), captured from fleetflagd,"
  echo "# served verbatim by the baseline"
  echo "# fleetflagd RSS before load: $(mib "$(kib VmRSS "$ff_pid")") MiB;" \
    "baseline: $(mib "$(kib VmRSS "$base_pid")") MiB"

  h2_duration=$(awk -v s="$seconds" 'BEGIN {printf "%dms", s * 1000}')  # h2load wants integers
  # placement: name, CPUs of the servers, CPUs of the client
  placements=("unpinned|0,1|0,1" "same-cpu|0|0" "split|0|1")
  results="$out/socket.txt"
  : >"$results"
  for pl in "${placements[@]}"; do
    IFS='|' read -r name server_cpus client_cpus <<<"$pl"
    taskset -a -p -c "$server_cpus" "$ff_pid" >/dev/null
    taskset -a -p -c "$server_cpus" "$base_pid" >/dev/null
    for conns in 1 32; do
      for ((r = 1; r <= rounds; ++r)); do
        # Alternate which side goes first, so a drift in machine load hits both alike.
        sides=(ff base)
        ((r % 2)) || sides=(base ff)
        for side in "${sides[@]}"; do
          sock=$ff_sock
          spid=$ff_pid
          [ "$side" = base ] && sock=$base_sock && spid=$base_pid
          c0=$(cpu_us "$spid")
          line=$(taskset -c "$client_cpus" \
            "$loadgen" load "$sock" "/v1/flags/$key" "$conns" "$seconds" 0.5)
          c1=$(cpu_us "$spid")
          all=$(field all <<<"$line")
          per=$(awk -v d=$((c1 - c0)) -v n="$all" 'BEGIN {printf "%.2f", d / n}')
          echo "$name $conns $side loadgen $line cpu_per_req_us=$per" >>"$results"
          if ((have_h2load)); then
            h=$(taskset -c "$client_cpus" \
              h2load --h1 -B "unix:$sock" -D "$h2_duration" --warm-up-time 1 \
              -c "$conns" -t 1 "http://localhost/v1/flags/$key" 2>&1 |
              sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p') || true
            if [ -z "$h" ]; then
              echo "run.sh: h2load failed on $sock" >&2
              exit 1
            fi
            echo "$name $conns $side h2load rps=$h" >>"$results"
          fi
        done
      done
    done
  done
  taskset -a -p -c 0,1 "$ff_pid" >/dev/null
  echo "# fleetflagd RSS after load: $(mib "$(kib VmRSS "$ff_pid")") MiB" \
    "(peak $(mib "$(kib VmHWM "$ff_pid")") MiB)"
  stop_pid "$ff_pid"
  stop_pid "$base_pid"

  sel() {  # lines of placement $1, conns $2, side $3, client $4
    awk -v p="$1" -v c="$2" -v s="$3" -v t="$4" \
      '$1 == p && $2 == c && $3 == s && $4 == t' "$results"
  }
  ratio_of() {  # 100 * median($1) / median($2), as "N%"
    awk -v a="$(median <<<"$1")" -v b="$(median <<<"$2")" 'BEGIN {printf "%.0f%%", 100 * a / b}'
  }
  echo
  echo "Requests/s, median (min-max) over $rounds runs of ${seconds} s;" \
    "ratio = median of fleetflagd / median of baseline."
  echo "Placement: unpinned = both free on CPUs 0-1; same-cpu = server and client on CPU 0;" \
    "split = server on CPU 0, client on CPU 1."
  echo
  echo "| placement | conns | client | fleetflagd req/s | baseline req/s | ratio | >= 50% |"
  echo "|---|---:|---|---:|---:|---:|:---:|"
  for pl in "${placements[@]}"; do
    name=${pl%%|*}
    for conns in 1 32; do
      for client in loadgen h2load; do
        [ "$client" = h2load ] && ((!have_h2load)) && continue
        a=$(sel "$name" "$conns" ff "$client" | field rps)
        b=$(sel "$name" "$conns" base "$client" | field rps)
        ratio=$(ratio_of "$a" "$b")
        ok=$(awk -v r="${ratio%\%}" 'BEGIN {print (r >= 50) ? "yes" : "no"}')
        echo "| $name | $conns | $client | $(summary k <<<"$a") | $(summary k <<<"$b") |" \
          "$ratio | $ok |"
      done
    done
  done
  echo
  echo "Server CPU time per request (us; all server threads, /proc/PID/task/*/schedstat, over"
  echo "each loadgen run incl. warm-up) and what it allows per server CPU-second; insensitive to"
  echo "run-queue waits:"
  echo
  echo "| placement | conns | fleetflagd CPU us/req | baseline CPU us/req |" \
    "fleetflagd req per CPU-s | baseline req per CPU-s | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for pl in "${placements[@]}"; do
    name=${pl%%|*}
    for conns in 1 32; do
      a=$(sel "$name" "$conns" ff loadgen | field cpu_per_req_us)
      b=$(sel "$name" "$conns" base loadgen | field cpu_per_req_us)
      ra=$(awk '{print 1e6 / $1}' <<<"$a")
      rb=$(awk '{print 1e6 / $1}' <<<"$b")
      ratio=$(ratio_of "$b" "$a")
      echo "| $name | $conns | $(summary <<<"$a") | $(summary <<<"$b") |" \
        "$(summary k <<<"$ra") | $(summary k <<<"$rb") | $ratio |"
    done
  done
  echo
  echo "Latency from loadgen (us, from writing a request to reading its whole answer)," \
    "median (min-max) over runs:"
  echo
  echo "| placement | conns | fleetflagd p50 | baseline p50 | fleetflagd p99 | baseline p99 |"
  echo "|---|---:|---:|---:|---:|---:|"
  for pl in "${placements[@]}"; do
    name=${pl%%|*}
    for conns in 1 32; do
      row="| $name | $conns"
      for f in p50_us p99_us; do
        for side in ff base; do
          row+=" | $(sel "$name" "$conns" "$side" loadgen | field "$f" | summary)"
        done
      done
      echo "$row |"
    done
  done
fi

# ---------------------------------------------------------------------------------------------
if [[ " $phases " == *" rss "* || " $phases " == *" startup "* ]]; then
  echo
  echo "## 2. RSS with 1,000 flags cached"
  node "$here/gen-flags.mjs" 1000 >"$work/flags1000.json"
  echo "# definitions: $(wc -c <"$work/flags1000.json") bytes, 1,000 flags" \
    "(12 rule templates, gen-flags.mjs)"
  (cd "$repo/tests/server" && exec node flagd-test-server.mjs --flags "$work/flags1000.json" \
    --port 0 >"$work/ts.out" 2>"$out/testserver.log") &
  ts_pid=$!
  pids+=("$ts_pid")
  for ((i = 0; i < 100; ++i)); do
    grep -q port "$work/ts.out" 2>/dev/null && break
    sleep 0.1
  done
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/ts.out")
  [ -n "$port" ] || { echo "run.sh: test server did not start" >&2; exit 1; }

  declare -A urls=(
    [definitions]="http://127.0.0.1:$port/flags.json"
    [ofrep]="http://127.0.0.1:$port"
  )
  echo
  echo "| mode | VmRSS MiB | VmHWM MiB | RssAnon MiB | RssFile MiB | Pss MiB | < 15 MiB (VmRSS) |"
  echo "|---|---:|---:|---:|---:|---:|:---:|"
  for mode in definitions ofrep; do
    sock="$work/sock/$mode.sock"
    "$ffd" --mode "$mode" --url "${urls[$mode]}" --socket "$sock" --state-dir "$work/state-$mode" \
      >"$out/agent-$mode-live.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_answer "$sock" /v1/flags/flag-0004 '"source":"live"'
    # Serve them: every flag once, one flag under load, then the 1,000-flag document under load.
    "$loadgen" capture "$sock" /v1/flags "$out/all-$mode.json" 2>/dev/null
    "$loadgen" load "$sock" /v1/flags/flag-0004 32 1 0 >/dev/null
    "$loadgen" load "$sock" /v1/flags 4 1 0 >/dev/null
    n=$(grep -o '"flag-[0-9]*":' "$out/all-$mode.json" | wc -l)
    [ "$n" -eq 1000 ] || { echo "run.sh: $mode agent serves $n flags, not 1000" >&2; exit 1; }
    pss=$(awk '$1 == "Pss:" {print $2}' "/proc/$pid/smaps_rollup")
    rss=$(kib VmRSS "$pid")
    ok=$(awk -v r="$rss" 'BEGIN {print (r < 15 * 1024) ? "yes" : "no"}')
    echo "| $mode | $(mib "$rss") | $(mib "$(kib VmHWM "$pid")") |" \
      "$(mib "$(kib RssAnon "$pid")") | $(mib "$(kib RssFile "$pid")") | $(mib "$pss") | $ok |"
    stop_pid "$pid"
  done
  echo
  echo "RssFile is mostly shared library text (libstdc++, libcrypto, libsqlite3, ...), shared"
  echo "with other processes; Pss divides it among them."

  # -------------------------------------------------------------------------------------------
  if [[ " $phases " == *" startup "* ]]; then
    stop_pid "$ts_pid"  # the upstream is now a closed port on 127.0.0.1
    echo
    echo "## 3. Start to first answer from cache" \
      "(upstream port $port closed, cache from the runs above)"
    echo
    echo "Over $starts starts per mode, median (min-max). exec -> 200: loadgen forks and execs"
    echo "fleetflagd and polls GET /v1/flags/flag-0004 every ~20 us until a 200 (checked to say"
    echo "\"source\":\"cache\"); CPU and run-queue wait: the agent's threads at that moment"
    echo "(/proc/PID/task/*/schedstat); log: the agent's own \"ready in N us\" (after argument"
    echo "parsing and logger set-up, until the socket listens)."
    echo
    echo "| mode | exec -> 200 ms | agent CPU ms | run-queue wait ms | log \"ready in\" ms |" \
      "< 50 ms (exec -> 200) |"
    echo "|---|---:|---:|---:|---:|:---:|"
    for mode in definitions ofrep; do
      sock="$work/sock/$mode.sock"
      : >"$out/startup-$mode.txt"
      for ((i = 1; i <= starts; ++i)); do
        line=$("$loadgen" ready "$sock" /v1/flags/flag-0004 10000 "$work/first.bin" \
          "$work/start.log" -- "$ffd" --mode "$mode" --url "${urls[$mode]}" --socket "$sock" \
          --state-dir "$work/state-$mode")
        if ! grep -q '"source":"cache"' "$work/first.bin"; then
          echo "run.sh: first answer not from cache" >&2
          exit 1
        fi
        us=$(sed -n 's/.*ready in \([0-9]*\) us.*/\1/p' "$work/start.log")
        echo "$line log_us=$us" >>"$out/startup-$mode.txt"
      done
      ms() { field "$1" <"$out/startup-$mode.txt" | awk '{printf "%.3f\n", $1 / 1000}' | summary; }
      m=$(field ready_us <"$out/startup-$mode.txt" | median)
      ok=$(awk -v m="$m" 'BEGIN {print (m < 50000) ? "yes" : "no"}')
      echo "| $mode | $(ms ready_us) | $(ms cpu_us) | $(ms runq_wait_us) | $(ms log_us) | $ok |"
    done
  fi
fi
echo
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
