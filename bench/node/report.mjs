// Summarises the rounds written by bench/run.sh into a Markdown table, and compares the
// --check histograms of both sides.
//
// Usage:
//   node report.mjs table DIR      DIR holds ff-<round>.json (Google Benchmark JSON output of
//                                  bench_engine) and node-<round>.jsonl (bench.mjs output)
//   node report.mjs check A B      exits 1 (and lists the differences) when the --check
//                                  outputs in files A and B differ
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const WORKLOADS = [
  ['targeted_bool', 'single targeted boolean rule'],
  ['fractional_4', '4-way fractional'],
  ['semver', 'sem_ver rule'],
  ['resolve_all_100', 'resolve-all, 100 mixed flags (calls/s)'],
];
const TARGET = 10;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(x) {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

function stats(xs) {
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})`;
}

// Both measures per side: wall-clock rate (primary) and rate per CPU second of the process,
// which a shared VM's steal time and run-queue waits do not inflate.
function table(dir) {
  const ff = {};
  const node = {};
  const ff_cpu = {};
  const node_cpu = {};
  const rounds = readdirSync(dir).filter((f) => /^ff-\d+\.json$/.test(f)).sort();
  for (const f of rounds) {
    const round = f.match(/\d+/)[0];
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    for (const b of doc.benchmarks) {
      const name = b.name.split('/')[0];
      (ff[name] ??= {})[round] = b.items_per_second;
      const ns = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[b.time_unit];
      (ff_cpu[name] ??= {})[round] = 1e9 / (b.cpu_time * ns);
    }
    const lines = readFileSync(join(dir, `node-${round}.jsonl`), 'utf8').trim().split('\n');
    for (const line of lines) {
      const r = JSON.parse(line);
      (node[r.workload] ??= {})[round] = r.evals_per_s;
      (node_cpu[r.workload] ??= {})[round] = r.cpu_evals_per_s;
    }
  }
  const out = [
    `${rounds.length} rounds, each: bench_engine then node (A/B alternating). Rates are ` +
      'evaluations/s (resolve-all: calls/s), median (min-max) over rounds.',
    '',
    ...rows('Wall-clock rate', ff, node),
    '',
    ...rows('Per CPU-second of the process', ff_cpu, node_cpu),
  ];
  console.log(out.join('\n'));
}

function rows(title, ff, node) {
  const out = [
    `| ${title}: workload | fleetflag | flagd-core 4.0.1 | ratio (median; per-round min-max) |` +
      ` >= ${TARGET}x |`,
    '|---|---:|---:|---:|:---:|',
  ];
  for (const [name, label] of WORKLOADS) {
    const a = ff[name] ?? {};
    const b = node[name] ?? {};
    const paired = Object.keys(a).filter((r) => r in b);
    if (paired.length === 0) {
      out.push(`| ${label} | - | - | - | - |`);
      continue;
    }
    const av = paired.map((r) => a[r]);
    const bv = paired.map((r) => b[r]);
    const ratios = paired.map((r) => a[r] / b[r]);
    const ratio = median(av) / median(bv);
    out.push(`| ${label} | ${stats(av)} | ${stats(bv)} | ${ratio.toFixed(1)}x ` +
      `(${Math.min(...ratios).toFixed(1)}-${Math.max(...ratios).toFixed(1)}) | ` +
      `${ratio >= TARGET ? 'yes' : 'no'} |`);
  }
  return out;
}

function check(a_path, b_path) {
  const a = JSON.parse(readFileSync(a_path, 'utf8'));
  const b = JSON.parse(readFileSync(b_path, 'utf8'));
  let diffs = 0;
  for (const [name] of WORKLOADS) {
    const x = a.check[name] ?? {};
    const y = b.check[name] ?? {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (x[k] !== y[k]) {
        if (diffs++ < 20) {
          console.error(`${name}: ${k}: ${a.side}=${x[k] ?? 0} ${b.side}=${y[k] ?? 0}`);
        }
      }
    }
  }
  if (diffs > 0) {
    console.error(`${diffs} differing results between ${a.side} and ${b.side}`);
    process.exit(1);
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'table') table(args[0]);
else if (mode === 'check') check(args[0], args[1]);
else {
  console.error('usage: report.mjs table DIR | check A B');
  process.exit(2);
}
