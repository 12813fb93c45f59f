// Seeded, deterministic generator of flag sets and evaluation contexts for the differential
// test against @openfeature/flagd-core (see README.md).
//
//   generate({ seed, contexts, sharedDir }) -> { sets: [{ name, text, oracleText }], contexts }
//
// `text` is what fleetflag loads; `oracleText` is what flagd-core loads (identical except for
// flagd.json array-form fixtures, which flagd-core does not accept and which get their map form).
// The same seed always yields byte-identical output.
//
// CLI: node gen.mjs [--seed N] [--contexts N] [--shared DIR] --out DIR
//   writes DIR/<set>.json, DIR/<set>.oracle.json (when it differs) and DIR/contexts.jsonl.
//
// Inputs that flagd-core evaluates differently from flagd (Go), the reference, are not
// generated; README.md ("Deliberate differences") lists each rule with its reason.

import fs from 'node:fs';
import path from 'node:path';

import { freezeClock, probeRule, PROBE_ERROR } from './oracle.mjs';

// ---------------------------------------------------------------------------------------------
// PRNG (mulberry32): small, fast, and identical on every platform.

export class Rng {
  constructor(seed) {
    this.s = seed >>> 0;
  }
  next() {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo, hi) {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p) {
    return this.next() < p;
  }
  pick(arr) {
    return arr[Math.floor(this.next() * arr.length)];
  }
  // Weighted choice over [[weight, value], ...].
  weighted(entries) {
    let total = 0;
    for (const [w] of entries) total += w;
    let x = this.next() * total;
    for (const [w, v] of entries) {
      if ((x -= w) < 0) return v;
    }
    return entries[entries.length - 1][1];
  }
  subset(arr, n) {
    const copy = [...arr];
    const out = [];
    while (out.length < n && copy.length) out.push(copy.splice(Math.floor(this.next() * copy.length), 1)[0]);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary shared by contexts and rules, so that rules actually hit context values.

const ASCII_IDS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan',
  'judy', 'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter'];
// flagd's hash edge vectors (COMPATIBILITY.md): murmur3 = 0, 2^31-1, 2^32-1.
const HASH_EDGE_KEYS = ['ejOoVL', 'SI7p-', 'ceQdGm'];
const DOMAINS = ['faas.com', 'company.com', 'example.org', 'openfeature.dev', 'mail.test'];
const NON_ASCII = ['Sulisław', 'Świętopełk', 'Zoë', 'naïve', '日本語', 'Ελλάδα', 'Ærøskøbing',
  'emoji ✈', 'Ünïcödé', 'straße', 'ƒoo', 'テスト'];
const TIERS = ['free', 'pro', 'enterprise', 'trial', 'gold'];
const COLORS = ['red', 'blue', 'green', 'yellow', 'black'];
const ENVS = ['production', 'staging', 'dev', 'test'];
const COUNTRIES = ['US', 'DE', 'PL', 'JP', 'BR', 'FR'];
const ROLES = ['admin', 'editor', 'viewer', 'ops', 'billing'];
const FILLINGS = ['apple', 'cherry', 'pumpkin', 'pecan'];
const VERSIONS = ['1.0.0', '2.0.0', '2.0.1', '1.2.3', '3.0.0', '3.1.4', '3.0.0-alpha', '3.0.0-beta.2',
  '2.0.0-rc.1', 'v2.0.0', 'V3.1.0', 'v1.2', '1', '2', '3.1', '10.0.0', '0.9.9', '2.0.0+build.7',
  '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-0.3.7', '2.0.0.0', 'not-a-version', '', 'v', '3.0'];
const STRINGS = [...ASCII_IDS.slice(0, 6), ...TIERS, ...COLORS, 'abcdef', 'xyz', 'abc123xyz',
  'hello world', '  padded  ', '42', '3.5', '-7', '0', 'true', 'null', ''];
const NOW = 1767225600; // 2026-01-01T00:00:00Z; the runner passes the same value to both sides

// ---------------------------------------------------------------------------------------------
// Contexts.

function asciiKey(r) {
  return r.weighted([
    [70, () => `${r.pick(ASCII_IDS)}-${r.int(0, 99999)}`],
    [10, () => r.pick(HASH_EDGE_KEYS)],
    [10, () => `${r.int(0, 1e9)}`],
    [10, () => Array.from({ length: r.int(1, 24) }, () => String.fromCharCode(r.int(33, 126))).join('')],
  ])();
}

function email(r) {
  return `${r.pick(ASCII_IDS)}${r.chance(0.3) ? r.int(1, 99) : ''}@${r.pick(DOMAINS)}`;
}

function anyString(r) {
  return r.weighted([
    [5, () => r.pick(STRINGS)],
    [2, () => r.pick(NON_ASCII)],
    [1, () => r.pick(VERSIONS)],
    [1, () => email(r)],
  ])();
}

function anyNumber(r) {
  return r.weighted([
    [6, () => r.int(-20, 120)],
    [2, () => r.int(-1000, 1000) / 4],
    [1, () => r.pick([0, 1, 2, 18, 21, 65, 100, 1e6, 2 ** 31, 2 ** 53 - 1, 0.1, 1e-3, -1])],
  ])();
}

// A value of any JSON type (used for "chaos" fields that exercise coercion).
function anyValue(r, depth = 0) {
  return r.weighted([
    [4, () => anyNumber(r)],
    [4, () => anyString(r)],
    [2, () => r.chance(0.5)],
    [2, () => null],
    // Never length 1 (README: arrays as targeting results).
    [depth < 2 ? 1 : 0, () => Array.from({ length: r.pick([0, 2, 3, 4]) }, () => anyValue(r, depth + 1))],
    [depth < 2 ? 1 : 0, () => ({ k: anyValue(r, depth + 1), n: r.int(0, 9) })],
  ])();
}

// Mostly well-typed value with occasional off-type values of the kinds that flagd-core and
// flagd (Go) coerce alike (README: loose comparison of a non-numeric string).
const OFF_TYPE = {
  number: (r) => r.pick([null, true, false, '42', '3.5', '-7', '0', '']),
  string: () => null,
  boolean: (r) => r.pick([null, 0, 1]),
  array: (r) => r.pick([null, 5, true, { k: 1 }]),
};
function typed(r, good, kind, offRate = 0.08) {
  return r.chance(offRate) ? OFF_TYPE[kind](r) : good();
}

// Sets `obj[key] = value()` unless the key is chosen to be missing.
function maybe(r, obj, key, pMissing, value) {
  if (!r.chance(pMissing)) obj[key] = value();
}

export function makeContext(r) {
  const c = {};
  // targetingKey: ASCII string, "", null or absent (README: non-string keys).
  const tk = r.weighted([[80, 'str'], [4, 'empty'], [4, 'null'], [12, 'absent']]);
  if (tk === 'str') c.targetingKey = asciiKey(r);
  else if (tk === 'empty') c.targetingKey = '';
  else if (tk === 'null') c.targetingKey = null;
  maybe(r, c, 'email', 0.2, () => email(r));
  // `user` is always an object with an ASCII name: full.json buckets on user.name.
  c.user = { name: r.pick(ASCII_IDS) };
  maybe(r, c.user, 'id', 0.2, () => r.int(1, 5000));
  maybe(r, c.user, 'roles', 0.3, () => r.subset(ROLES, r.int(0, 3)));
  maybe(r, c.user, 'address', 0.3, () => {
    const a = {};
    maybe(r, a, 'country', 0.2, () => typed(r, () => r.pick(COUNTRIES), 'string'));
    maybe(r, a, 'zip', 0.4, () => typed(r, () => String(r.int(10000, 99999)), 'string'));
    return a;
  });
  maybe(r, c.user, 'displayName', 0.5, () => r.pick([...NON_ASCII, ...ASCII_IDS]));
  maybe(r, c, 'age', 0.2, () => typed(r, () => r.int(0, 99), 'number'));
  maybe(r, c, 'score', 0.3, () => typed(r, () => r.int(-400, 4000) / 8, 'number'));
  maybe(r, c, 'count', 0.3, () => typed(r, () => r.int(0, 12), 'number'));
  maybe(r, c, 'tier', 0.2, () => typed(r, () => r.pick(TIERS), 'string'));
  maybe(r, c, 'color', 0.3, () => typed(r, () => r.pick(COLORS), 'string'));
  maybe(r, c, 'env', 0.3, () => typed(r, () => r.pick(ENVS), 'string'));
  maybe(r, c, 'beta', 0.3, () => typed(r, () => r.chance(0.5), 'boolean'));
  maybe(r, c, 'customer', 0.4, () => typed(r, () => r.chance(0.5), 'boolean'));
  maybe(r, c, 'version', 0.2, () => typed(r, () => r.pick(VERSIONS), 'string', 0.1));
  maybe(r, c, 'appVersion', 0.4, () => r.weighted([[8, () => r.pick(VERSIONS)], [1, () => r.pick([1, 2, 3.1, 2.5])], [1, () => null]])());
  maybe(r, c, 'name', 0.3, () => anyString(r));
  maybe(r, c, 'locale', 0.4, () => r.pick(['en-US', 'de-DE', 'pl-PL', 'ja-JP', 'fr', 'zh-Hant-TW']));
  maybe(r, c, 'id', 0.3, () => typed(r, () => r.pick(['abc', 'abcdef', 'xyz', 'abcxyz', '123xyz', 'zzz', 'ab'])
    + (r.chance(0.5) ? r.pick(['', 'xyz', '-1']) : ''), 'string'));
  maybe(r, c, 'fn', 0.5, () => r.pick(['Sulisław', 'Adam', 'Ewa']));
  maybe(r, c, 'ln', 0.5, () => r.pick(['Świętopełk', 'Nowak']));
  maybe(r, c, 'time', 0.4, () => typed(r, () => NOW + r.int(-3, 3) * r.pick([1, 60, 86400]), 'number'));
  maybe(r, c, 'tags', 0.3, () => typed(r, () => r.subset([...ROLES, ...TIERS, ...COLORS], r.int(0, 5)), 'array'));
  maybe(r, c, 'integers', 0.3, () => typed(r, () => Array.from({ length: r.int(0, 6) }, () => r.int(-5, 20)), 'array'));
  maybe(r, c, 'pies', 0.5, () => Array.from({ length: r.int(0, 3) }, () => ({ filling: r.pick(FILLINGS) })));
  maybe(r, c, 'misc', 0.2, () => anyValue(r));
  maybe(r, c, 'misc2', 0.3, () => anyValue(r));
  if (r.chance(0.05)) c.$flagd = { flagKey: 'spoofed', timestamp: 1 };
  return c;
}

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function makeFleetContext(r, i) {
  const c = { targetingKey: `host-${i}-${asciiKey(r)}` };
  maybe(r, c, 'tier', 0.9, () => typed(r, () => r.pick(['free', 'pro', 'enterprise', ...TIERS]), 'string'));
  maybe(r, c, 'incident_open', 0.8, () => r.weighted([[6, () => false], [3, () => true], [1, () => r.pick(['false', 0, null])]])());
  maybe(r, c, 'time', 0.9, () => {
    const minuteOfDay = r.weighted([[5, () => r.int(0, 1439)], [5, () => r.pick([539, 540, 541, 959, 960, 961])]])();
    const wd = r.int(0, 6);
    return { weekday: WEEKDAYS[wd], isoWeekday: wd + 1, hour: Math.floor(minuteOfDay / 60),
      minute: minuteOfDay % 60, minuteOfDay, unix: NOW, date: '2026-11-29', zone: 'Europe/Berlin' };
  });
  maybe(r, c, 'canary', 0.9, () => {
    const k = { count: r.weighted([[5, () => 0], [5, () => r.int(1, 5)]])(), active: r.int(0, 2) };
    maybe(r, k, 'daysSinceLast', 0.6, () => r.pick([0, 1, 29, 30, 31, 200]));
    return k;
  });
  return c;
}

// ---------------------------------------------------------------------------------------------
// Rules. Each builder returns JSON Logic producing (mostly) the named type.

const NUM_VARS = ['age', 'score', 'count', 'user.id', 'time'];
const STR_VARS = ['tier', 'color', 'env', 'name', 'locale', 'id', 'email', 'user.name',
  'user.address.country', 'user.address.zip', 'user.displayName', 'fn', 'ln', 'targetingKey'];
const BOOL_VARS = ['beta', 'customer'];
const ARR_VARS = ['tags', 'integers', 'user.roles', 'pies'];
const ANY_VARS = ['misc', 'misc2', ...NUM_VARS, ...STR_VARS, ...BOOL_VARS, ...ARR_VARS,
  'nosuchkey', 'user.nosuch.deeper', 'integers.0', 'integers.1', 'tags.0', 'pies.0.filling'];

// flagd-core's compiled `cat` turns null into "null" where flagd (Go) appends "" (README):
// operands of cat get a non-null default.
function catArg(x) {
  if (x && typeof x === 'object' && 'var' in x) {
    const [name, def] = Array.isArray(x.var) ? x.var : [x.var];
    return { var: [name, def ?? ''] };
  }
  return x;
}

// flagd-core's compiled `all` is true on a null/missing array where flagd (Go) says false
// (README): its array operand gets a default of [].
function allArg(x) {
  if (x && typeof x === 'object' && 'var' in x) {
    const [name, def] = Array.isArray(x.var) ? x.var : [x.var];
    return { var: [name, def ?? []] };
  }
  return x;
}

function v(name, def) {
  return def === undefined ? { var: name } : { var: [name, def] };
}

class RuleGen {
  constructor(r) {
    this.r = r;
  }
  // A numeric expression. `simple`: only numeric variables, each with a non-null default, and
  // no if/reduce (README: operands of loose comparisons).
  num(d, simple = false) {
    const r = this.r;
    const numVar = () => (simple ? v(r.pick(NUM_VARS), r.int(1, 30)) : v(r.pick(NUM_VARS)));
    if (d <= 0) return r.weighted([[3, () => r.int(-10, 50)], [3, numVar],
      [1, () => v(r.pick(NUM_VARS), r.int(0, 30))], [1, () => r.int(-16, 16) / 4]])();
    return r.weighted([
      [4, () => this.num(0, simple)],
      [2, () => ({ [r.pick(['+', '*'])]: [this.num(d - 1, simple), this.num(d - 1, simple), ...(r.chance(0.3) ? [this.num(d - 1, simple)] : [])] })],
      [2, () => ({ '-': r.chance(0.2) ? [this.num(d - 1, simple)] : [this.num(d - 1, simple), this.num(d - 1, simple)] })],
      [1, () => ({ '/': [this.num(d - 1, simple), r.pick([1, 2, 4, 8, 3])] })],
      [1, () => ({ '%': [this.num(d - 1, simple), r.pick([2, 3, 5, 7, 10])] })],
      [1, () => ({ [r.pick(['min', 'max'])]: Array.from({ length: r.int(1, 4) }, () => this.num(d - 1, simple)) })],
      [simple ? 0 : 1, () => ({ if: [this.bool(d - 1), this.num(d - 1), this.num(d - 1)] })],
      [simple ? 0 : 1, () => ({ reduce: [this.arr(d - 1, 'num'), { '+': [v('current'), v('accumulator')] }, r.int(0, 3)] })],
      [simple ? 0 : 1, () => ({ '+': [v(r.pick(STR_VARS)), 0] })],
      [1, () => ({ '-': [v('$flagd.timestamp'), NOW - r.int(-5, 5) * 86400] })],
    ])();
  }
  // A string expression. `nonNull`: variables get a default (README: cat and null).
  str(d, nonNull = false) {
    const r = this.r;
    const strVar = () => (nonNull ? v(r.pick(STR_VARS), r.pick(STRINGS)) : v(r.pick(STR_VARS)));
    if (d <= 0) return r.weighted([[3, () => r.pick(STRINGS)], [4, strVar],
      [1, () => v(r.pick(STR_VARS), r.pick(STRINGS))], [1, () => v('$flagd.flagKey')]])();
    return r.weighted([
      [4, () => this.str(0, nonNull)],
      [2, () => ({ cat: Array.from({ length: r.int(1, 4) }, () => catArg(r.chance(0.7) ? this.str(d - 1, true) : this.num(0))) })],
      [2, () => ({ substr: r.chance(0.5) ? [this.str(d - 1), r.int(-6, 8)] : [this.str(d - 1), r.int(-4, 6), r.int(-4, 6)] })],
      [1, () => ({ if: [this.bool(d - 1), this.str(d - 1, nonNull), this.str(d - 1, nonNull)] })],
    ])();
  }
  arr(d, kind = 'any') {
    const r = this.r;
    const base = () => (kind === 'num'
      ? r.weighted([[3, () => v('integers')], [1, () => Array.from({ length: r.int(0, 5) }, () => r.int(-5, 20))]])()
      : r.weighted([[3, () => v(r.pick(ARR_VARS.slice(0, 3)))], [1, () => r.subset([...ROLES, ...TIERS], r.int(0, 4))]])());
    if (d <= 0) return base();
    return r.weighted([
      [4, base],
      [1, () => ({ merge: [this.arr(d - 1, kind), kind === 'num' ? [r.int(0, 9)] : r.pick(ROLES), ...(r.chance(0.4) ? [[]] : [])] })],
      [kind === 'num' ? 2 : 0, () => ({ map: [this.arr(d - 1, 'num'), { [r.pick(['*', '+', '-'])]: [v(''), r.int(1, 3)] }] })],
      [kind === 'num' ? 2 : 0, () => ({ filter: [this.arr(d - 1, 'num'), { [r.pick(['>', '<', '>=', '%'])]: [v(''), r.int(0, 5)] }] })],
      [kind === 'any' ? 1 : 0, () => ({ filter: [this.arr(d - 1, 'any'), { '!=': [v(''), r.pick(ROLES)] }] })],
    ])();
  }
  // Operands of a loose comparison: both numeric (numbers, numeric strings, booleans, null) or
  // both strings/null (README: loose comparison of a non-numeric string).
  // The second operand is simple and nothing is null (README: loose comparisons).
  cmpOperands(d) {
    const r = this.r;
    if (r.chance(0.6)) {
      const num = () => r.weighted([[5, () => this.num(d, true)], [1, () => r.pick([true, false, '', '1', '2.5', 0, 1])], [1, () => v(r.pick(BOOL_VARS), r.pick([true, false, 0]))]])();
      return [num(), num()];
    }
    return [this.str(d), r.chance(0.5) ? this.str(0) : r.pick([...STRINGS, null])];
  }
  bool(d) {
    const r = this.r;
    if (d <= 0) {
      return r.weighted([
        [3, () => ({ [r.pick(['==', '===', '!=', '!=='])]: [v(r.pick(STR_VARS)), r.pick(STRINGS)] })],
        [3, () => ({ [r.pick(['<', '<=', '>', '>='])]: [v(r.pick(NUM_VARS)), r.int(0, 60)] })],
        [1, () => v(r.pick(BOOL_VARS))],
        [1, () => ({ '!': [v(r.pick(ANY_VARS))] })],
        [1, () => ({ '!!': [v(r.pick(ANY_VARS))] })],
        [1, () => ({ in: [r.pick([...ROLES, ...TIERS]), v(r.pick(ARR_VARS.slice(0, 3)))] })],
        [1, () => ({ in: [r.pick(['@faas.com', 'abc', 'xyz', 'a', 'S']), v(r.pick(STR_VARS))] })],
        [1, () => ({ [r.pick(['starts_with', 'ends_with'])]: [v(r.pick(STR_VARS)), r.pick(['abc', 'xyz', '@faas.com', 'al', 'S', ''])] })],
        [1, () => ({ sem_ver: [v(r.pick(['version', 'appVersion'])), r.pick(['=', '!=', '<', '<=', '>', '>=', '~', '^']), r.pick(VERSIONS.slice(0, 20))] })],
        [1, () => r.pick([true, false])],
      ])();
    }
    return r.weighted([
      [4, () => this.bool(0)],
      [2, () => ({ [r.pick(['and', 'or'])]: Array.from({ length: r.int(1, 3) }, () => this.bool(d - 1)) })],
      [1, () => ({ '!': this.bool(d - 1) })],
      [2, () => ({ [r.pick(['==', '!=', '===', '!=='])]: this.cmpOperands(d - 1) })],
      [1, () => ({ [r.pick(['===', '!=='])]: [v(r.pick(ANY_VARS)), r.chance(0.5) ? v(r.pick(ANY_VARS)) : r.pick([null, true, 0, '', 'pro', 1])] })],
      [2, () => ({ [r.pick(['<', '<=', '>', '>='])]: [this.num(d - 1), this.num(d - 1, true)] })],
      [1, () => ({ [r.pick(['<', '<='])]: [this.num(0), this.num(d - 1, true), this.num(0, true)] })],
      [1, () => ({ [r.pick(['<', '>', '<=', '>='])]: [this.str(d - 1), this.str(0)] })],
      [1, () => ({ [r.pick(['all', 'some', 'none'])]: [allArg(this.arr(d - 1, 'num')), { [r.pick(['>', '<', '=='])]: [v(''), r.int(-2, 10)] }] })],
      [1, () => ({ [r.pick(['all', 'some', 'none'])]: [allArg(v('pies')), { '==': [v('filling'), r.pick(FILLINGS)] }] })],
      [1, () => ({ in: [this.str(d - 1), this.arr(d - 1)] })],
      [1, () => ({ in: [r.pick(['a', 'b', 'ab', 'xyz', '@faas.com', 'pro', 'S', '4']), this.str(d - 1)] })],
      [1, () => ({ '!': { missing: r.subset(['email', 'age', 'tier', 'user.address.country', 'beta', 'misc'], r.int(1, 3)) } })],
      [1, () => ({ '!': [{ missing_some: [r.int(1, 2), r.subset(['email', 'age', 'tier', 'color', 'user.id'], r.int(2, 4))] }] })],
      [1, () => ({ [r.pick(['starts_with', 'ends_with'])]: [this.str(d - 1), this.str(0)] })],
      [1, () => ({ sem_ver: [this.str(d - 1), r.pick(['=', '!=', '<', '<=', '>', '>=', '~', '^']), this.str(0)] })],
    ])();
  }
}

// ---------------------------------------------------------------------------------------------
// Flags.

const TYPES = ['boolean', 'string', 'number', 'object'];

function variantValue(r, type, i) {
  switch (type) {
    case 'boolean': return i % 2 === 0;
    case 'string': return r.chance(0.2) ? r.pick(NON_ASCII) : `value-${i}`;
    case 'number': return r.pick([i, i * 1.5, -i, 1e6 + i, i / 8]);
    default: return r.weighted([[3, () => ({ idx: i, on: i % 2 === 0 })], [1, () => ({ nested: { list: [i, 'x', null], deep: { k: i } } })], [1, () => ({})]])();
  }
}

// Builds a flag whose targeting is `targeting`, with variants named `names`.
function makeFlag(r, names, targeting, opts = {}) {
  const type = opts.type ?? r.pick(TYPES);
  const variants = {};
  names.forEach((n, i) => { variants[n] = variantValue(r, type, i); });
  const flag = { state: r.chance(opts.disabledRate ?? 0.05) ? 'DISABLED' : 'ENABLED', variants };
  const dv = r.weighted([[85, 'set'], [8, 'absent'], [7, 'null']]);
  if (dv === 'set') flag.defaultVariant = r.pick(names);
  else if (dv === 'null') flag.defaultVariant = null;
  if (targeting !== undefined) flag.targeting = targeting;
  if (r.chance(0.2)) flag.metadata = { owner: r.pick(ASCII_IDS), ticket: r.int(1, 999), gated: r.chance(0.5) };
  return flag;
}

const PICK_NAMES = ['on', 'off', 'a', 'b', 'c', 'red', 'blue', 'green', 'control', 'treatment'];
// Names a targeting result may stringify to: booleans, small numbers, common strings.
const RESULT_NAMES = ['true', 'false', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10',
  '-1', '-2', '0.5', '1.5', '2.5', '12', '15', '20', '100', ...TIERS, ...COLORS, ...ROLES,
  'alice', 'bob', 'carol', 'abc', 'xyz', 'abcdef', 'ab', 'bc', 'hello', 'world', 'yes', 'no',
  'prefix', 'postfix', 'equal', 'greater', 'lesser', 'minor', 'major', 'none', 'clubs',
  'diamonds', 'hearts', 'spades', 'heads', 'tails', 'single-entry', 'logic', 'son',
  'I love pie', '1@', 'production', 'US', 'DE', 'PL'];

function bucketSpec(r, names) {
  const n = r.int(1, Math.min(5, names.length));
  return r.subset(names, n).map((name) => r.weighted([
    [6, () => [name, r.pick([1, 5, 10, 25, 33, 50, 100])]],
    [1, () => [name]],
    [1, () => [name, 0]],
    [1, () => [name, r.int(-5, -1)]],
    [1, () => [name, r.int(1, 2147483647 >> 4)]],
  ])());
}

// A bucketing expression that always evaluates to an ASCII string.
function bucketBy(r) {
  return r.pick([
    { var: 'user.name' },
    { var: ['email', 'nobody@mail.test'] },
    { cat: [{ var: '$flagd.flagKey' }, { var: 'user.name' }] },
    { cat: [{ var: '$flagd.flagKey' }, { var: ['targetingKey', 'anon'] }] },
    r.pick(HASH_EDGE_KEYS),
    `${r.pick(ASCII_IDS)}${r.int(0, 999)}`,
    { cat: ['salt-', { var: ['email', 'x'] }] },
  ]);
}

// Hand-written templates: every operator of targeting.json at least once, with seeded constants.
function templates(r) {
  const t = [];
  const add = (names, targeting, opts) => t.push([names, targeting, opts]);
  const ver = () => r.pick(VERSIONS.slice(0, 20));
  // var: plain, default, dotted, array index, empty path inside iterators, number key.
  add(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'], { var: 'user.name' });
  add(['free', 'pro', 'enterprise', 'trial', 'gold', 'unknown'], { var: ['tier', 'unknown'] });
  add(['US', 'DE', 'PL', 'JP', 'BR', 'FR', 'none'], { var: ['user.address.country', 'none'] });
  add(RESULT_NAMES, { var: 'integers.0' });
  add(RESULT_NAMES, { var: ['tags.1', 'none'] });
  add(RESULT_NAMES, { var: 'pies.0.filling' });
  add(RESULT_NAMES, { var: 'nosuchkey' });
  add(RESULT_NAMES, { var: ['nosuchkey.deeper', 'none'] });
  add(RESULT_NAMES, { var: 'misc' });
  add(['on', 'off'], { if: [{ var: 'beta' }, 'on', 'off'] });
  // missing / missing_some
  add(['yes', 'no'], { if: [{ missing: ['email', 'age'] }, 'no', 'yes'] });
  add(['yes', 'no'], { if: [{ missing: ['user.address.country'] }, 'no', 'yes'] });
  add(['yes', 'no'], { if: [{ missing_some: [1, ['email', 'age', 'tier']] }, 'no', 'yes'] });
  add(['yes', 'no'], { if: [{ missing_some: [2, ['email', 'user.id', 'color', 'misc']] }, 'no', 'yes'] });
  add(['yes', 'no'], { if: [{ missing: [] }, 'no', 'yes'] });
  add(['yes', 'no'], { if: [{ missing_some: [0, ['nope']] }, 'no', 'yes'] });
  // if: chains, shorthand, even length, nested
  add(['a', 'b', 'c', 'd'], { if: [{ '==': [{ var: 'tier' }, 'pro'] }, 'a', { '==': [{ var: 'tier' }, 'free'] }, 'b', { '>': [{ var: 'age' }, 30] }, 'c', 'd'] });
  add(['a', 'b'], { if: [{ '==': [{ var: 'color' }, 'red'] }, 'a'] });
  add(['a', 'b', 'true', 'false'], { if: [{ '==': [{ var: 'env' }, 'production'] }] });
  add(['a', 'b'], { if: [{ '==': [{ var: 'env' }, 'dev'] }, 'a', { '==': [{ var: 'env' }, 'test'] }, 'b'] });
  add(['a', 'b', 'c'], { if: [{ if: [{ var: 'beta' }, { var: 'customer' }, false] }, 'a', { if: [{ var: 'customer' }, 'b', 'c'] }] });
  add(['a', 'b'], { if: [] });
  add(['a', 'b'], { if: ['a'] });
  // equality family, loose and strict, with coercion-prone operands
  for (const op of ['==', '===', '!=', '!==']) {
    add(['true', 'false'], { [op]: [{ var: 'age' }, r.int(1, 99)] });
    add(['true', 'false'], { [op]: [{ var: 'age' }, String(r.int(0, 99))] });
    add(['true', 'false'], { [op]: [{ var: ['beta', false] }, r.pick([true, false, 1, 0, '1'])] });
    add(['true', 'false'], { [op]: [{ var: ['count', 3] }, r.pick([0, '', '0', 1, true, false, '2'])] });
    if (op.length === 3) {
      add(['true', 'false'], { [op]: [{ var: 'misc' }, r.pick([null, 0, '', '0', 1, true, false, 'abc'])] });
      add(['true', 'false'], { [op]: [{ var: 'misc' }, { var: 'misc2' }] });
    }
    add(['true', 'false'], { [op]: [{ var: 'nosuchkey' }, null] });
    add(['true', 'false'], { [op]: [{ var: 'fn' }, 'Sulisław'] });
  }
  // negation
  add(['true', 'false'], { '!': [{ var: 'misc' }] });
  add(['true', 'false'], { '!': { var: 'tags' } });
  add(['true', 'false'], { '!!': [{ var: 'misc' }] });
  add(['true', 'false'], { '!!': [{ var: 'integers' }] });
  add(['true', 'false'], { '!!': { var: 'user.address' } });
  add(['true', 'false'], { '!!': [[]] });
  add(['true', 'false'], { '!!': ['0'] });
  // and / or return their operands
  add(RESULT_NAMES, { and: [{ var: 'beta' }, { var: 'tier' }] });
  add(RESULT_NAMES, { or: [{ var: 'nosuchkey' }, { var: 'color' }, 'none'] });
  add(RESULT_NAMES, { or: [{ var: 'misc' }, { var: 'misc2' }] });
  add(RESULT_NAMES, { and: [{ var: 'misc' }, { var: 'count' }] });
  add(RESULT_NAMES, { and: [true, 'a', 3] });
  add(RESULT_NAMES, { or: [false, 0, 'a'] });
  // ordering, including 3-argument between
  for (const op of ['<', '<=', '>', '>=']) {
    add(['true', 'false'], { [op]: [{ var: 'age' }, r.int(10, 60)] });
    add(['true', 'false'], { [op]: [{ var: 'score' }, { var: 'count' }] });
    add(['true', 'false'], { [op]: [{ var: 'tier' }, r.pick(TIERS)] });
    add(['true', 'false'], { [op]: [{ var: 'count' }, r.pick([0, 5, '5', null, true])] });
    add(['true', 'false'], { [op]: [{ var: 'name' }, { var: 'locale' }] });
    add(['true', 'false'], { [op]: [{ var: '$flagd.timestamp' }, { var: 'time' }] });
  }
  add(['true', 'false'], { '<': [18, { var: 'age' }, 65] });
  add(['true', 'false'], { '<=': [18, { var: 'age' }, 65] });
  add(['true', 'false'], { '<': [0, { var: 'score' }, { var: 'count' }] });
  add(['true', 'false'], { '<=': [{ var: 'count' }, 5, { var: 'age' }] });
  // arithmetic
  add(RESULT_NAMES, { '+': [{ var: 'count' }, 1] });
  add(RESULT_NAMES, { '+': [{ var: 'age' }, { var: 'count' }, -20] });
  add(RESULT_NAMES, { '+': ['3.5', { var: 'count' }] });
  add(RESULT_NAMES, { '+': [{ var: 'misc' }] });
  add(RESULT_NAMES, { '-': [{ var: 'count' }] });
  add(RESULT_NAMES, { '-': [{ var: 'age' }, { var: 'count' }] });
  add(RESULT_NAMES, { '*': [{ var: 'count' }, 0.5] });
  add(RESULT_NAMES, { '/': [{ var: 'count' }, 2] });
  add(RESULT_NAMES, { '/': [{ var: 'age' }, { var: 'count' }] });
  add(RESULT_NAMES, { '%': [{ var: 'age' }, 10] });
  add(RESULT_NAMES, { '%': [{ var: 'score' }, { var: 'count' }] });
  add(RESULT_NAMES, { min: [{ var: 'count' }, 5, 3] });
  add(RESULT_NAMES, { max: [{ var: 'count' }, { var: 'age' }] });
  add(RESULT_NAMES, { max: [{ var: 'misc' }, 1] });
  add(RESULT_NAMES, { min: [] });
  // strings
  add(RESULT_NAMES, { cat: [{ var: ['tier', ''] }, '-', { var: ['count', 0] }] });
  add(RESULT_NAMES, { cat: ['1', '@'] });
  add(RESULT_NAMES, { cat: [{ var: ['misc', ''] }] });
  add(RESULT_NAMES, { cat: [{ var: ['nosuchkey', 'x'] }, 'abc'] });
  add(RESULT_NAMES, { substr: [{ var: 'id' }, 0, 3] });
  add(RESULT_NAMES, { substr: [{ var: 'id' }, -3] });
  add(RESULT_NAMES, { substr: [{ var: 'name' }, 1, -1] });
  add(RESULT_NAMES, { substr: ['jsonlogic', r.int(-12, 12)] });
  add(RESULT_NAMES, { substr: ['jsonlogic', r.int(-12, 12), r.int(-12, 12)] });
  // in: arrays and strings
  add(['true', 'false'], { in: [{ var: 'tier' }, TIERS.slice(0, 3)] });
  add(['true', 'false'], { in: ['admin', { var: 'user.roles' }] });
  add(['true', 'false'], { in: ['@faas.com', { var: 'email' }] });
  add(['true', 'false'], { in: [{ var: 'color' }, 'redblue'] });
  add(['true', 'false'], { in: [{ var: 'misc' }, { var: 'tags' }] });
  add(['true', 'false'], { in: ['Spring', 'Springfield'] });
  // merge / map / filter / reduce / all / none / some
  // Array results never name a variant (README: arrays as targeting results).
  add(['a', 'b'], { merge: [{ var: 'tags' }, ['x']] });
  add(['true', 'false'], { in: ['ops', { merge: [{ var: 'user.roles' }, { var: 'tags' }, 'ops'] }] });
  add(RESULT_NAMES, { reduce: [{ map: [{ var: 'integers' }, { '*': [{ var: '' }, 2] }] }, { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] });
  add(RESULT_NAMES, { reduce: [{ filter: [{ var: 'integers' }, { '%': [{ var: '' }, 2] }] }, { max: [{ var: 'current' }, { var: 'accumulator' }] }, -1] });
  add(RESULT_NAMES, { reduce: [{ var: 'integers' }, { '+': [{ var: 'current' }, { var: 'accumulator' }] }] });
  add(RESULT_NAMES, { reduce: [{ var: 'tags' }, { cat: [{ var: 'accumulator' }, { var: 'current' }] }, ''] });
  add(['true', 'false'], { all: [{ var: ['integers', []] }, { '>': [{ var: '' }, 0] }] });
  add(['true', 'false'], { some: [{ var: 'integers' }, { '>': [{ var: '' }, 10] }] });
  add(['true', 'false'], { none: [{ var: 'integers' }, { '<': [{ var: '' }, 0] }] });
  add(['true', 'false'], { some: [{ var: 'pies' }, { '==': [{ var: 'filling' }, 'apple'] }] });
  add(['true', 'false'], { all: [{ var: ['pies', []] }, { in: [{ var: 'filling' }, ['apple', 'cherry']] }] });
  add(['true', 'false'], { all: [[], true] });
  add(['true', 'false'], { none: [[], true] });
  add(['true', 'false'], { some: [{ var: 'nosuchkey' }, true] });
  add(['a', 'b'], { map: [{ var: 'integers' }, { '+': [{ var: '' }, 1] }] });
  add(['a', 'b'], { filter: [{ var: 'tags' }, { '==': [{ var: '' }, 'admin'] }] });
  add(RESULT_NAMES, { reduce: [{ filter: [{ var: 'tags' }, { '!=': [{ var: '' }, 'admin'] }] }, { cat: [{ var: 'accumulator' }, { var: 'current' }] }, ''] });
  // starts_with / ends_with, including bad arguments (null, not false)
  add(['prefix', 'postfix', 'none'], { if: [{ starts_with: [{ var: 'id' }, 'abc'] }, 'prefix', { if: [{ ends_with: [{ var: 'id' }, 'xyz'] }, 'postfix', 'none'] }] });
  add(['yes', 'no'], { if: [{ ends_with: [{ var: 'email' }, '@company.com'] }, 'yes', 'no'] });
  add(['true', 'false'], { starts_with: [{ var: 'misc' }, 'a'] });
  add(['true', 'false'], { ends_with: [{ var: 'id' }, 3] });
  add(['true', 'false'], { starts_with: [{ var: 'name' }, 'S', 'x'] });
  add(['true', 'false'], { ends_with: 'abc' });
  add(['true', 'false'], { starts_with: [{ var: 'fn' }, 'Sul'] });
  // sem_ver: every operator, v/V prefix, partial versions, pre-release, bad input
  for (const op of ['=', '!=', '<', '<=', '>', '>=', '~', '^']) {
    add(['true', 'false'], { sem_ver: [{ var: 'version' }, op, ver()] });
    add(['true', 'false'], { sem_ver: [{ var: 'appVersion' }, op, r.pick(['v2.0.0', 'V3', '1.2', '3.0.0-alpha', '2.0.0-rc.2', '2'])] });
  }
  add(['true', 'false'], { sem_ver: [{ var: 'version' }, 'x', '1.0.0'] });
  add(['true', 'false'], { sem_ver: [{ var: 'version' }, '='] });
  add(['true', 'false'], { sem_ver: [1.2, '=', '1.2.0'] });
  add(['true', 'false'], { sem_ver: [{ var: 'version' }, '>=', { var: 'appVersion' }] });
  add(['equal', 'greater', 'lesser', 'none'], { if: [{ sem_ver: [{ var: 'version' }, '=', '2.0.0'] }, 'equal', { sem_ver: [{ var: 'version' }, '>', '2.0.0'] }, 'greater', { sem_ver: [{ var: 'version' }, '<', '2.0.0'] }, 'lesser', null] });
  // fractional: shorthand, explicit bucketing, weights, nested expressions as variants
  add(['clubs', 'diamonds', 'hearts', 'spades'], { fractional: [['clubs', 25], ['diamonds', 25], ['hearts', 25], ['spades', 25]] });
  add(['heads', 'tails'], { fractional: [['heads'], ['tails', 1]] });
  add(['single-entry'], { fractional: [['single-entry', 1]] });
  add(['on', 'off'], { fractional: [{ var: 'user.name' }, ['on', 10], ['off', 90]] });
  add(['on', 'off'], { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'user.name' }] }, ['on', 50], ['off', 50]] });
  add(['on', 'off'], { fractional: [['on', { '-': [{ var: '$flagd.timestamp' }, NOW - 1000] }], ['off', { '-': [NOW + 1000, { var: '$flagd.timestamp' }] }]] });
  add(['on', 'off'], { fractional: [{ var: ['email', 'nobody'] }, ['on', { '-': [{ var: '$flagd.timestamp' }, NOW - 10] }], ['off', 100]] });
  add(['clubs', 'true', '1', 'diamonds', 'hearts', 'spades'], { fractional: [['clubs', 1], [true, 1], [1, 1], [{ fractional: [['clubs', 25], ['diamonds', 25], ['hearts', 25], ['spades', 25]] }, 1]] });
  add(['a', 'b', 'c'], { fractional: [[{ if: [{ var: 'beta' }, 'a', 'b'] }, 50], ['c', 50]] });
  add(['a', 'b'], { fractional: [['a', 0], ['b', 0]] });
  add(['a', 'b'], { fractional: [['a', 1.5], ['b', 1]] });
  add(['a', 'b'], { fractional: [['a', 2147483647], ['b', 1]] });
  add(['a', 'b'], { fractional: [['a', 2147483646], ['b', 1]] });
  add(['a', 'b'], { fractional: [] });
  add(['a', 'b'], { fractional: [r.pick(HASH_EDGE_KEYS)] });
  add(['a', 'b'], { fractional: ['a', 'b'] });
  for (const key of HASH_EDGE_KEYS) add(['a', 'b', 'c'], { fractional: [key, ['a', 1], ['b', 1], ['c', 1]] });
  add(['a', 'b'], { if: [{ '>': [{ var: 'age' }, 21] }, { fractional: [{ var: 'user.name' }, ['a', 50], ['b', 50]] }, null] });
  // $flagd properties
  add(RESULT_NAMES, { var: '$flagd.flagKey' });
  add(['past', 'future', 'none'], { if: [{ '>': [{ var: '$flagd.timestamp' }, { var: 'time' }] }, 'past', { '<': [{ var: '$flagd.timestamp' }, { var: 'time' }] }, 'future', 'none'] });
  add(['a', 'b'], { if: [{ '==': [{ var: '$flagd.timestamp' }, NOW] }, 'a', 'b'] });
  // targeting results that name no variant, or are objects/arrays
  add(['a', 'b'], { var: 'user' });
  add(['a', 'b'], { var: 'tags' });
  add(['a', 'b'], 'zzz');
  add(['a', 'b'], { if: [{ var: 'beta' }, 'nosuchvariant', null] });
  add(['a', 'b'], {});
  add(['a', 'b'], null);
  add(['a', 'b'], { '+': [1, 0.5] });
  return t;
}

function randomRule(r, g) {
  const names = r.subset(PICK_NAMES, r.int(2, 5));
  const pickVariant = (d) => r.weighted([
    [6, () => r.pick(names)],
    [1, () => null],
    [1, () => ({ fractional: [...(r.chance(0.5) ? [bucketBy(r)] : []), ...bucketSpec(r, names)] })],
    [d > 0 ? 1 : 0, () => ({ if: [g.bool(d - 1), r.pick(names), r.pick(names)] })],
  ])();
  const shape = r.weighted([[5, 'if'], [1, 'bool'], [1, 'num'], [1, 'str'], [1, 'frac']]);
  if (shape === 'if') {
    const targeting = { if: [] };
    for (let a = r.int(1, 3); a > 0; a--) targeting.if.push(g.bool(r.int(0, 3)), pickVariant(2));
    if (r.chance(0.8)) targeting.if.push(pickVariant(1));
    return { targeting, names };
  }
  if (shape === 'bool') return { targeting: g.bool(r.int(1, 3)) };
  if (shape === 'num') return { targeting: g.num(r.int(1, 3)) };
  if (shape === 'str') return { targeting: g.str(r.int(1, 3)) };
  return { targeting: { fractional: [...(r.chance(0.6) ? [bucketBy(r)] : []), ...bucketSpec(r, names)] }, names };
}

function generatedSet(r, ruleCount, probes) {
  const g = new RuleGen(r);
  const flags = {};
  let n = 0;
  const key = (prefix) => `${prefix}-${String(n++).padStart(4, '0')}`;
  for (const [names, targeting, opts] of templates(r)) {
    flags[key('t')] = makeFlag(r, names, targeting, opts);
  }
  for (let i = 0; i < ruleCount; i++) {
    const k = key('g');
    let best = null;
    // Rejection sampling: keep the first candidate whose outcome varies across the probe
    // contexts (constant rules test little), else the most varied of a few tries.
    for (let attempt = 0; attempt < 6; attempt++) {
      const cand = randomRule(r, g);
      const outcomes = new Map();
      for (const res of probeRule(k, cand.targeting, probes)) {
        const o = res === PROBE_ERROR ? '!error' : res === null || res === undefined ? '!null'
          : typeof res === 'object' ? '!object' : String(res);
        outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      }
      if (!best || outcomes.size > best.outcomes.size) best = { ...cand, outcomes };
      if (outcomes.size >= 3 || (outcomes.size === 2 && attempt >= 2)) break;
    }
    let names = best.names;
    if (!names) {
      // Name variants after the most frequent results, leaving rarer ones unnamed (GENERAL).
      names = [...best.outcomes.entries()].filter(([o]) => !o.startsWith('!'))
        .filter(([o]) => o !== '').sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 6).map(([o]) => o);
      if (!names.length) names = ['true', 'false'];
    }
    flags[k] = makeFlag(r, names, best.targeting);
  }
  // Flags without targeting, disabled flags, and $ref to shared evaluators.
  for (const type of TYPES) {
    flags[key('static')] = makeFlag(r, ['on', 'off', 'x'], undefined, { type, disabledRate: 0 });
    flags[key('static')] = makeFlag(r, ['on', 'off'], {}, { type, disabledRate: 0 });
    flags[key('disabled')] = makeFlag(r, ['on', 'off'], { if: [{ var: 'beta' }, 'on', 'off'] }, { type, disabledRate: 1 });
  }
  const nodefault = makeFlag(r, ['on', 'off'], undefined, { disabledRate: 0 });
  delete nodefault.defaultVariant;
  flags[key('nodefault')] = nodefault;
  const nulldefault = makeFlag(r, ['on', 'off'], { if: [{ var: 'beta' }, 'on', null] }, { disabledRate: 0 });
  nulldefault.defaultVariant = null;
  flags[key('nulldefault')] = nulldefault;
  const evaluators = {
    isPro: { in: [{ var: 'tier' }, ['pro', 'enterprise']] },
    isAdult: { '>=': [{ var: 'age' }, 18] },
    emailWithFaas: { in: ['@faas.com', { var: ['email'] }] },
    rollout: { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'user.name' }] }, ['on', 30], ['off', 70]] },
  };
  const refs = [
    { if: [{ $ref: 'isPro' }, 'on', 'off'] },
    { if: [{ and: [{ $ref: 'isPro' }, { $ref: 'isAdult' }] }, 'on', 'off'] },
    { if: [{ $ref: 'emailWithFaas' }, { $ref: 'rollout' }, null] },
    { $ref: 'rollout' },
    { if: [{ or: [{ $ref: 'isAdult' }, { $ref: 'emailWithFaas' }] }, { fractional: [['on', 1], ['off', 1]] }, 'off'] },
  ];
  for (const t of refs) flags[key('ref')] = makeFlag(r, ['on', 'off'], t, { disabledRate: 0 });
  const doc = { $schema: 'https://flagd.dev/schema/v0/flags.json', flags, $evaluators: evaluators, metadata: { flagSetId: 'diff-gen', version: 1 } };
  return doc;
}

// Flag set built from the targeting-schema fixtures: each rule becomes one flag.
function targetingFixtureSet(r, dir) {
  const flags = {};
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  for (const file of files) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const rules = doc && Array.isArray(doc['*']) && Object.keys(doc).length === 1 ? doc['*'] : [doc];
    rules.forEach((rule, i) => {
      const key = `${file.replace(/\.json$/, '')}-${i}`;
      // Array results never name a variant (README: arrays as targeting results).
      const arrays = rule && ['map', 'filter', 'merge'].includes(Object.keys(rule)[0]);
      const names = arrays ? ['a', 'b', 'none'] : RESULT_NAMES;
      flags[key] = { state: 'ENABLED', variants: Object.fromEntries(names.map((n) => [n, n.toUpperCase()])), defaultVariant: 'none', targeting: rule };
    });
  }
  return { flags, $evaluators: { 'some-ref': { '===': [{ var: 'env' }, 'production'] } } };
}

// flagd.json documents may carry `flags` as an array; flagd-core only takes the map form.
function toMapForm(doc) {
  if (!Array.isArray(doc.flags)) return null;
  const flags = {};
  for (const f of doc.flags) {
    const { key, ...rest } = f;
    flags[key] = rest;
  }
  return { ...doc, flags };
}

export function generate({ seed = 1, contexts = 10000, sharedDir, rules = 80 } = {}) {
  const r = new Rng(seed);
  const sets = [];
  freezeClock(NOW);
  const probeRng = new Rng(seed * 31 + 5);
  const probes = Array.from({ length: 200 }, () => makeContext(probeRng));
  const gen = generatedSet(new Rng(seed ^ 0x5eed), rules, probes);
  sets.push({ name: 'generated', text: JSON.stringify(gen, null, 1) });
  if (sharedDir) {
    const schemas = path.join(sharedDir, 'reference', 'flagd-schemas');
    const tdir = path.join(schemas, 'test', 'targeting', 'positive');
    sets.push({ name: 'targeting-positive', text: JSON.stringify(targetingFixtureSet(r, tdir), null, 1) });
    const fixtureFiles = [];
    for (const kind of ['flags', 'flagd']) {
      const d = path.join(schemas, 'test', kind, 'positive');
      for (const f of fs.readdirSync(d).sort()) if (f.endsWith('.json')) fixtureFiles.push([`${kind}-${f}`, path.join(d, f)]);
    }
    for (const f of fs.readdirSync(path.join(schemas, 'examples')).sort()) {
      if (f.endsWith('.json')) fixtureFiles.push([`examples-${f}`, path.join(schemas, 'examples', f)]);
    }
    for (const [name, file] of fixtureFiles) {
      const text = fs.readFileSync(file, 'utf8');
      const mapped = toMapForm(JSON.parse(text));
      sets.push({ name: name.replace(/\.json$/, ''), text, ...(mapped ? { oracleText: JSON.stringify(mapped) } : {}) });
    }
  }
  // The project's own examples (README demo, docs/context.md rollouts), so documented rules are
  // checked against flagd-core too.
  const repo = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  for (const [name, rel] of [['examples-demo', 'examples/flags.json'], ['examples-rollouts', 'examples/rollouts/flags.json']]) {
    const file = path.join(repo, rel);
    if (fs.existsSync(file)) sets.push({ name, text: fs.readFileSync(file, 'utf8'), fleet: true });
  }
  for (const s of sets) s.oracleText ??= s.text;
  const ctxRng = new Rng(seed * 7919 + 17);
  const list = [];
  // A few fixed contexts first: the empty one and the fixtures' own examples.
  list.push({ user: { name: 'erin' } }, { targetingKey: 'ejOoVL', user: { name: 'dave' } },
    { fn: 'Sulisław', ln: 'Świętopełk', age: 29, customer: false, user: { name: 'alice' } },
    { email: 'someone@faas.com', targetingKey: 'SI7p-', user: { name: 'bob' } }, { color: 'yellow', user: { name: 'ceQdGm' } });
  while (list.length < contexts) list.push(makeContext(ctxRng));
  // Host contexts as fleetflagd builds them (time.*, canary.*, provider attributes) for the
  // `fleet` sets (the project's examples); the other sets keep the generic contexts, whose
  // `time` is a number.
  const fleetRng = new Rng(seed * 104729 + 3);
  const fleetContexts = Array.from({ length: Math.ceil(contexts / 5) }, (_, i) => makeFleetContext(fleetRng, i));
  return { sets, contexts: list, fleetContexts, now: NOW };
}

export { NOW };

// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    out[a.slice(2)] = argv[++i];
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseArgs(process.argv.slice(2));
  if (!args.out) {
    console.error('usage: node gen.mjs [--seed N] [--contexts N] [--shared DIR] --out DIR');
    process.exit(2);
  }
  const { sets, contexts } = generate({ seed: Number(args.seed ?? 1), contexts: Number(args.contexts ?? 10000), sharedDir: args.shared });
  fs.mkdirSync(args.out, { recursive: true });
  for (const s of sets) {
    fs.writeFileSync(path.join(args.out, `${s.name}.json`), s.text);
    if (s.oracleText !== s.text) fs.writeFileSync(path.join(args.out, `${s.name}.oracle.json`), s.oracleText);
  }
  fs.writeFileSync(path.join(args.out, 'contexts.jsonl'), contexts.map((c) => JSON.stringify(c)).join('\n') + '\n');
  console.log(`wrote ${sets.length} flag sets and ${contexts.length} contexts to ${args.out}`);
}
