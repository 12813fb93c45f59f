// The oracle: OpenFeature's JavaScript flagd evaluator (@openfeature/flagd-core), producing the
// OFREP bulk entry fleetflag prints for each flag (shared/reference/ofrep/openapi.yaml):
//   success  {key, reason, variant?, value?, metadata}   (value/variant absent: code default)
//   disabled {key, reason: "DISABLED", metadata}
//   error    {key, errorCode, errorDetails, metadata}
// It calls FeatureFlag.evaluate() directly rather than the typed resolve*() API, which would
// substitute the caller's default value and add TYPE_MISMATCH checks that OFREP does not make.
//
// CLI: node oracle.mjs --flags F --now T --contexts C.jsonl   (prints one bulk body per line,
// like `fleetflag eval`).

import fs from 'node:fs';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let flagdCore;
try {
  flagdCore = require('@openfeature/flagd-core');
} catch (err) {
  throw new Error(`tests/diff: @openfeature/flagd-core is not installed; run scripts/setup.sh (npm ci in tests/diff): ${err.message}`);
}
const { FlagdCore } = flagdCore;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

// Fixes $flagd.timestamp: flagd-core reads Math.floor(Date.now() / 1000) at evaluation time.
export function freezeClock(nowSeconds) {
  const fixed = nowSeconds * 1000;
  Date.now = () => fixed;
}

export class Oracle {
  // `text`: flag-definition JSON text in the map form flagd-core accepts.
  constructor(text) {
    this.core = new FlagdCore(undefined, silent);
    this.core.setConfigurations(text);
    this.flags = [...this.core.getFlags().entries()];
  }

  keys() {
    return this.flags.map(([k]) => k);
  }

  // One OFREP bulk entry per flag, keyed by flag key.
  evaluateAll(context) {
    const out = new Map();
    for (const [key, flag] of this.flags) out.set(key, evaluateFlag(key, flag, context));
    return out;
  }
}

export function evaluateFlag(key, flag, context) {
  const metadata = flag.metadata ?? {};
  if (flag.state === 'DISABLED') return { key, reason: 'DISABLED', metadata };
  const res = flag.evaluate(context, silent);
  if (res.errorCode) {
    return { key, errorCode: res.errorCode, errorDetails: res.errorMessage ?? '', metadata };
  }
  const entry = { key, reason: res.reason };
  if (res.value !== undefined) {
    entry.variant = res.variant;
    entry.value = res.value;
  }
  entry.metadata = metadata;
  return entry;
}

// Raw targeting results of one rule over `contexts` (for the generator, which keeps rules whose
// outcome varies and names variants after what they produce). Errors yield PROBE_ERROR.
export const PROBE_ERROR = Symbol('error');
export function probeRule(key, targeting, contexts) {
  const core = new FlagdCore(undefined, silent);
  core.setConfigurations(JSON.stringify({ flags: { [key]: { state: 'ENABLED', variants: { x: 1 }, targeting } } }));
  const flag = core.getFlag(key);
  if (!flag._targeting) return contexts.map(() => PROBE_ERROR);
  return contexts.map((c) => {
    try {
      return flag._targeting.evaluate(key, c, silent);
    } catch {
      return PROBE_ERROR;
    }
  });
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[++i];
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseArgs(process.argv.slice(2));
  if (!args.flags || !args.contexts) {
    console.error('usage: node oracle.mjs --flags FILE [--now UNIX_SECONDS] --contexts FILE.jsonl');
    process.exit(2);
  }
  freezeClock(Number(args.now ?? Math.floor(Date.now() / 1000)));
  const oracle = new Oracle(fs.readFileSync(args.flags, 'utf8'));
  const rl = readline.createInterface({ input: fs.createReadStream(args.contexts), crlfDelay: Infinity });
  const meta = oracle.core.getFlagSetMetadata();
  for await (const line of rl) {
    if (!line.trim()) continue;
    const results = oracle.evaluateAll(JSON.parse(line));
    process.stdout.write(JSON.stringify({ flags: [...results.values()], metadata: meta }) + '\n');
  }
}
