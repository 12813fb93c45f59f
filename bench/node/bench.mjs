// Baseline side of bench/: the four workloads of bench/bench_engine.cpp, evaluated by
// @openfeature/flagd-core (default options: json-logic-engine compiles each rule to a JS
// function, its fastest mode) over the same flags and the same 1,000 contexts, cycled.
//
// Usage: node bench.mjs [--data DIR] [--seconds S] [--warmup S] [--only NAME,...] [--check]
// Prints one JSON object per line:
//   {"side":"flagd-core","workload":NAME,"evals_per_s":X,"cpu_evals_per_s":Y,"iterations":N,
//    "seconds":T,"cpu_seconds":C}
// With --check it prints instead, per workload, how many times each "flag=variant/REASON" came
// out over one pass of the contexts; run.sh compares that with bench_engine --check so that
// both sides are known to do the same work.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlagdCore } from '@openfeature/flagd-core';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const data_dir = arg('--data', join(here, '..', 'data'));
const seconds = Number(arg('--seconds', '2'));
const warmup_seconds = Number(arg('--warmup', '1'));
const only = arg('--only', '');
const check = process.argv.includes('--check');

const read = (name) => readFileSync(join(data_dir, name), 'utf8');
const contexts = JSON.parse(read('contexts.json'));

const single = new FlagdCore();
single.setConfigurations(read('single.json'));
const mixed = new FlagdCore();
mixed.setConfigurations(read('mixed100.json'));

// Each workload evaluates context `i` and returns something derived from the result, so the
// JIT cannot drop the call.
const workloads = [
  {
    name: 'targeted_bool',
    run: (ctx) => [single.resolveBooleanEvaluation('targeted-bool', false, ctx)],
    key: () => 'targeted-bool',
  },
  {
    name: 'fractional_4',
    run: (ctx) => [single.resolveStringEvaluation('fractional-4', '', ctx)],
    key: () => 'fractional-4',
  },
  {
    name: 'semver',
    run: (ctx) => [single.resolveStringEvaluation('semver-gate', '', ctx)],
    key: () => 'semver-gate',
  },
  {
    name: 'resolve_all_100',
    run: (ctx) => mixed.resolveAll(ctx),
    key: (r) => r.flagKey,
  },
].filter((w) => only === '' || only.split(',').includes(w.name));

function histogram(w) {
  const counts = {};
  for (const ctx of contexts) {
    for (const r of w.run(ctx)) {
      // flagd-core's resolveAll leaves out disabled flags and results without a value;
      // bench_engine --check does the same so the two histograms compare.
      if (r.value === undefined || r.reason === 'DISABLED') continue;
      const k = `${w.key(r)}=${r.variant}/${r.reason}`;
      counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)));
}

// Runs `w` for `budget_s` seconds in batches of 1,024 calls (the clock is read once per
// batch) and returns calls per wall-clock second and per CPU second of the whole process (GC and
// JIT threads included).
function measure(w, budget_s) {
  const n = contexts.length;
  const budget_ns = BigInt(Math.round(budget_s * 1e9));
  let i = 0;
  let calls = 0;
  let sink = 0;
  const cpu_start = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < budget_ns) {
    for (let b = 0; b < 1024; b++) {
      sink += w.run(contexts[i]).length;
      if (++i === n) i = 0;
    }
    calls += 1024;
    elapsed = process.hrtime.bigint() - start;
  }
  const cpu = process.cpuUsage(cpu_start);
  if (sink < calls) throw new Error('workload returned no result');
  const secs = Number(elapsed) / 1e9;
  const cpu_secs = (cpu.user + cpu.system) / 1e6;
  return {
    evals_per_s: calls / secs,
    cpu_evals_per_s: calls / cpu_secs,
    iterations: calls,
    seconds: secs,
    cpu_seconds: cpu_secs,
  };
}

if (check) {
  const out = {};
  for (const w of workloads) out[w.name] = histogram(w);
  console.log(JSON.stringify({ side: 'flagd-core', check: out }));
} else {
  for (const w of workloads) {
    measure(w, warmup_seconds);
    const r = measure(w, seconds);
    console.log(JSON.stringify({ side: 'flagd-core', workload: w.name, ...r }));
  }
}
