// Differential test: fleetflag's engine against @openfeature/flagd-core (README.md).
//
//   node run.mjs FLEETFLAG_BINARY [--shared DIR] [--seed N] [--contexts N] [--rules N]
//                [--fixture-stride N] [--jobs N] [--show N] [--keep DIR]
//
// Generates flag sets and contexts (gen.mjs), runs `fleetflag eval --contexts` on each set and
// compares every flag of every context with flagd-core (compare.mjs, in worker threads).
// Prints a summary, the first disagreement of up to --show flags (definition, context, both
// answers), and "diff: N evaluations compared, M disagreements"; exits 1 on any disagreement,
// 2 on a usage or environment error.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { generate } from './gen.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);

function parseArgs(argv) {
  const out = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[++i];
    else out.positional.push(argv[i]);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const binary = args.positional[0] && path.resolve(args.positional[0]);
if (!binary) {
  console.error('usage: node run.mjs FLEETFLAG_BINARY [--shared DIR] [--seed N] [--contexts N] [--rules N] [--fixture-stride N] [--jobs N] [--show N] [--keep DIR]');
  process.exit(2);
}
if (!fs.existsSync(binary)) {
  console.error(`diff: fleetflag binary not found: ${binary}`);
  process.exit(2);
}
if (!fs.existsSync(path.join(here, 'node_modules', '@openfeature', 'flagd-core'))) {
  console.error('diff: tests/diff/node_modules is missing: run scripts/setup.sh (npm ci in tests/diff)');
  process.exit(2);
}
const sharedDir = path.resolve(args.shared ?? path.join(here, '..', '..', '..', 'shared'));
if (!fs.existsSync(path.join(sharedDir, 'reference', 'flagd-schemas'))) {
  console.error(`diff: flagd-schemas fixtures not found under ${sharedDir} (pass --shared DIR)`);
  process.exit(2);
}
const seed = Number(args.seed ?? 20261129);
const contextCount = Number(args.contexts ?? 10000);
const fixtureStride = Number(args['fixture-stride'] ?? 5);
const jobs = Math.max(1, Number(args.jobs ?? Math.min(2, os.availableParallelism())));
const show = Number(args.show ?? 10);

const started = performance.now();
const { sets, contexts, fleetContexts, now } = generate({ seed, contexts: contextCount, sharedDir, rules: Number(args.rules ?? 80) });
const genSeconds = (performance.now() - started) / 1000;

const workDir = args.keep ? path.resolve(args.keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'ff-diff-'));
fs.mkdirSync(workDir, { recursive: true });
const writeContexts = (name, list) => {
  const file = path.join(workDir, `${name}.jsonl`);
  fs.writeFileSync(file, list.map((c) => JSON.stringify(c)).join('\n') + '\n');
  return file;
};

// Tasks: the generated set over every context, in chunks (so that workers share it); each
// fixture set over every `fixtureStride`-th context.
const tasks = [];
const fixtureContexts = writeContexts('contexts-fixtures', contexts.filter((_, i) => i % fixtureStride === 0));
const fleetFile = writeContexts('contexts-fleet', fleetContexts);
const chunks = Math.max(1, jobs * 2);
for (const set of sets) {
  const flagsFile = path.join(workDir, `${set.name}.json`);
  fs.writeFileSync(flagsFile, set.text);
  const base = { set: set.name, binary, flagsFile, oracleText: set.oracleText, now, show };
  if (set.name === 'generated') {
    const size = Math.ceil(contexts.length / chunks);
    for (let c = 0; c < chunks; c++) {
      const list = contexts.slice(c * size, (c + 1) * size);
      if (list.length) tasks.push({ ...base, contextsFile: writeContexts(`contexts-${c}`, list) });
    }
  } else {
    tasks.push({ ...base, contextsFile: set.fleet ? fleetFile : fixtureContexts });
  }
}

const total = { compared: 0, contexts: 0, disagreements: 0, outcomes: {}, errorPairs: {}, byKind: {}, byFlag: {}, shown: [] };
const flagsPerSet = new Map();
const merge = (into, from) => {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
};

async function runAll() {
  const queue = [...tasks];
  const workers = Array.from({ length: Math.min(jobs, queue.length) }, () => new Worker(new URL('./compare.mjs', import.meta.url), { workerData: { diffWorker: true } }));
  try {
    await Promise.all(workers.map((w) => (async () => {
      let pending = null;
      w.on('message', (m) => pending?.resolve(m));
      w.on('error', (e) => pending?.reject(e));
      for (let task = queue.shift(); task; task = queue.shift()) {
        const reply = await new Promise((resolve, reject) => {
          pending = { resolve, reject };
          w.postMessage(task);
        });
        if (!reply.ok) throw new Error(reply.error);
        const r = reply.result;
        total.compared += r.compared;
        total.contexts += r.contexts;
        total.disagreements += r.disagreements;
        for (const k of ['outcomes', 'errorPairs', 'byKind', 'byFlag']) merge(total[k], r[k]);
        for (const d of r.shown) if (!total.shown.some((e) => e.set === d.set && e.flag === d.flag)) total.shown.push(d);
        flagsPerSet.set(task.set, r.flags);
      }
    })()));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

try {
  await runAll();
} catch (err) {
  console.error(`diff: ${err.message}`);
  process.exit(1);
} finally {
  if (!args.keep) fs.rmSync(workDir, { recursive: true, force: true });
}

function definition(setName, key) {
  const doc = JSON.parse(sets.find((s) => s.name === setName).oracleText);
  return doc.$evaluators ? { flag: doc.flags[key], $evaluators: doc.$evaluators } : { flag: doc.flags[key] };
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const fmt = (obj) => Object.entries(obj).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(' ');
const flagCount = [...flagsPerSet.values()].reduce((a, b) => a + b, 0);
console.log(`diff: seed ${seed}: ${sets.length} flag sets (${flagCount} flags), ${contexts.length} contexts (fixture sets see every ${fixtureStride}th), ${fleetContexts.length} host contexts for the examples, ${total.contexts} bulk evaluations, ${jobs} job(s)`);
console.log(`diff: flagd-core outcomes: ${fmt(total.outcomes)}`);
console.log(`diff: both errors (flagd-core/fleetflag): ${fmt(total.errorPairs) || 'none'}`);
for (const d of total.shown.slice(0, show)) {
  console.log(`\n--- disagreement [${d.kinds.join(',')}] set ${d.set}, flag ${d.flag}`);
  console.log(`definition: ${JSON.stringify(definition(d.set, d.flag))}`);
  console.log(`context:    ${JSON.stringify(d.context)}`);
  console.log(`flagd-core: ${JSON.stringify(d.flagdCore)}`);
  console.log(`fleetflag:  ${JSON.stringify(d.fleetflag)}`);
}
if (total.disagreements) {
  console.log(`\ndiff: disagreements by kind: ${fmt(total.byKind)}`);
  const top = Object.entries(total.byFlag).sort((a, b) => b[1] - a[1]);
  console.log(`diff: disagreeing flags (${top.length}): ${top.slice(0, 40).map(([k, n]) => `${k}=${n}`).join(' ')}`);
}
console.log(`diff: ${total.compared} evaluations compared, ${total.disagreements} disagreements, ${seconds}s (generation ${genSeconds.toFixed(1)}s)`);
process.exit(total.disagreements ? 1 : 0);
