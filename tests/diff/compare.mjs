// One comparison task of the differential test, run in a worker thread by run.mjs: evaluate
// one flag set over one contexts file with `fleetflag eval --contexts` and with flagd-core, and
// compare every flag of every context.
//
// Comparison (README.md): value (deep equal), variant, reason and metadata must be identical;
// where both sides report an error only "is an error" must agree, because flagd-core says
// GENERAL where flagd (Go) and fleetflag say PARSE_ERROR (shared/design/COMPATIBILITY.md).

import fs from 'node:fs';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { parentPort, workerData } from 'node:worker_threads';

import { Oracle, freezeClock } from './oracle.mjs';

// Deep equality of JSON values, object key order ignored.
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

function bump(obj, k, n = 1) {
  obj[k] = (obj[k] ?? 0) + n;
}

// The fields on which an expected (flagd-core) and an actual (fleetflag) OFREP bulk entry
// disagree; `errorPairs` counts error-code pairs where both are errors.
export function differences(want, got, errorPairs) {
  const wantErr = want.errorCode !== undefined;
  const gotErr = got.errorCode !== undefined;
  if (wantErr || gotErr) {
    if (wantErr && gotErr) {
      bump(errorPairs, `${want.errorCode}/${got.errorCode}`);
      return jsonEqual(want.metadata ?? {}, got.metadata ?? {}) ? [] : ['metadata'];
    }
    return ['error'];
  }
  const out = [];
  if (want.reason !== got.reason) out.push('reason');
  if (want.variant !== got.variant) out.push('variant');
  if (!jsonEqual(want.value, got.value)) out.push('value');
  if (!jsonEqual(want.metadata ?? {}, got.metadata ?? {})) out.push('metadata');
  return out;
}

// task: { set, binary, flagsFile, oracleText, contextsFile, now, show }
// Resolves to { compared, contexts, flags, disagreements, outcomes, errorPairs, byKind, byFlag,
// shown }; rejects when fleetflag fails or prints something other than one body per context.
export async function runTask(task) {
  freezeClock(task.now);
  const contexts = fs.readFileSync(task.contextsFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const oracle = new Oracle(task.oracleText);
  const r = { compared: 0, contexts: contexts.length, flags: oracle.keys().length, disagreements: 0, outcomes: {}, errorPairs: {}, byKind: {}, byFlag: {}, shown: [] };
  const record = (context, key, kinds, want, got) => {
    r.disagreements++;
    bump(r.byFlag, `${task.set}/${key}`);
    for (const k of kinds) bump(r.byKind, k);
    if (r.shown.length < task.show && !r.shown.some((d) => d.flag === key)) {
      r.shown.push({ set: task.set, flag: key, kinds, context, flagdCore: want, fleetflag: got });
    }
  };
  const child = spawn(task.binary, ['eval', '--flags', task.flagsFile, '--now', String(task.now), '--contexts', task.contextsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const rl = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
  let index = 0;
  for await (const line of rl) {
    if (index >= contexts.length) throw new Error(`${task.set}: fleetflag printed more lines than there are contexts`);
    let body;
    try {
      body = JSON.parse(line);
    } catch (err) {
      throw new Error(`${task.set}: context ${index}: fleetflag printed invalid JSON (${err.message}): ${line.slice(0, 200)}`);
    }
    const got = new Map();
    for (const entry of body.flags ?? []) got.set(entry.key, entry);
    const context = contexts[index];
    for (const [key, w] of oracle.evaluateAll(context)) {
      r.compared++;
      bump(r.outcomes, w.errorCode ?? w.reason);
      const g = got.get(key);
      if (!g) {
        record(context, key, ['missing'], w, null);
        continue;
      }
      got.delete(key);
      const kinds = differences(w, g, r.errorPairs);
      if (kinds.length) record(context, key, kinds, w, g);
    }
    for (const [key, g] of got) record(context, key, ['extra'], null, g);
    index++;
  }
  const { code, signal } = await exited;
  if (code !== 0) throw new Error(`${task.set}: fleetflag exited with ${code ?? signal}: ${stderr.trim().slice(0, 2000)}`);
  if (index !== contexts.length) throw new Error(`${task.set}: fleetflag printed ${index} lines for ${contexts.length} contexts`);
  return r;
}

if (parentPort && workerData?.diffWorker) {
  parentPort.on('message', async (task) => {
    try {
      parentPort.postMessage({ ok: true, result: await runTask(task) });
    } catch (err) {
      parentPort.postMessage({ ok: false, error: err.message });
    }
  });
}
