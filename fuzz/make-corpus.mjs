// Writes the committed seed corpora under fuzz/corpus/<target>/ (rerun after editing; the
// output is deterministic):
//   - flagd-schemas test fixtures and examples (Apache-2.0, see corpus/README.md), copied from
//     the reference folder given as the first argument (default ../shared/reference/flagd-schemas
//     next to the repository);
//   - handwritten rules that together use every operator flagd's targeting schema allows,
//     each paired with a context, plus definitions documents built from them.
// Usage: node fuzz/make-corpus.mjs [FLAGD_SCHEMAS_DIR]
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const schemas = process.argv[2] ?? join(here, '..', '..', 'shared', 'reference', 'flagd-schemas');
const corpus = join(here, 'corpus');
const TARGETS = ['fuzz_definitions', 'fuzz_json', 'fuzz_validate', 'fuzz_rule'];

// Every operator of flagd-schemas targeting.json; the generator fails if a rule set below
// leaves one out.
const OPERATORS = [
  'var', 'missing', 'missing_some', 'if', '==', '===', '!=', '!==', '!', '!!', 'and', 'or',
  '<', '<=', '>', '>=', '+', '-', '*', '/', '%', 'max', 'min', 'cat', 'substr', 'in', 'merge',
  'map', 'filter', 'reduce', 'all', 'none', 'some', 'fractional', 'starts_with', 'ends_with',
  'sem_ver',
];

const user = {
  targetingKey: 'user-1', email: 'ann@example.com', tier: 'internal', version: '2.1.0-rc.1',
  age: 42, beta: true, groups: ['beta', 'staff'], user: { name: 'ann', tags: ['a', 'b'] },
  integers: [1, 2, 3, 4], pies: [{ filling: 'apple' }, { filling: 'cherry' }], id: 'abcxyz',
  time: 1700000000,
};
const odd = {
  targetingKey: 5, email: null, tier: ['internal'], version: {}, age: '42', groups: 'beta',
  $flagd: { flagKey: 7, timestamp: 'now' }, id: '\u00e9\u65e5\ud83d\ude00',
};

// [name, rule, context]
const rules = [
  ['var-path', { var: 'user.name' }, user],
  ['var-default', { var: ['user.missing', 'fallback'] }, user],
  ['var-index', { var: 'integers.2' }, user],
  ['var-number', { var: 1 }, user],
  ['var-flagd', { cat: [{ var: '$flagd.flagKey' }, '@', { var: '$flagd.timestamp' }] }, odd],
  ['missing', { missing: ['email', 'phone', 'user.name'] }, user],
  ['missing-some', { missing_some: [1, ['email', 'phone', 'fax']] }, odd],
  ['if-chain', { if: [{ var: 'beta' }, 'a', { '==': [{ var: 'tier' }, 'pro'] }, 'b', 'c'] }, user],
  ['if-empty', { if: [] }, user],
  ['eq-coerce', { '==': [1, '1'] }, user],
  ['eq-null', { '==': [null, { var: 'nothing' }] }, user],
  ['eq-strict', { '===': [1, 1.0] }, user],
  ['ne', { '!=': [{ var: 'age' }, '42'] }, odd],
  ['ne-strict', { '!==': [{ var: 'age' }, '42'] }, odd],
  ['not-empty-array', { '!': [[]] }, user],
  ['not-not', { '!!': [{ var: 'groups' }] }, user],
  ['and', { and: [true, { var: 'beta' }, 'x', 3] }, user],
  ['or', { or: [false, 0, '', { var: 'email' }] }, odd],
  ['lt-between', { '<': [18, { var: 'age' }, 65] }, user],
  ['le-between', { '<=': [1, 1, { var: 'age' }] }, odd],
  ['gt-strings', { '>': ['10', '9'] }, user],
  ['ge', { '>=': [{ var: 'time' }, { var: '$flagd.timestamp' }] }, user],
  ['arith', {
    '+': [{ '*': [2, { var: 'age' }] }, { '-': [10, '3'] }, { '/': [9, 2] }, { '%': [101, 7] }],
  }, user],
  ['plus-unary', { '+': ['3.14'] }, user],
  ['minus-unary', { '-': [{ var: 'age' }] }, odd],
  ['div-zero', { '/': [1, 0] }, user],
  ['mod-zero', { '%': [1, 0] }, user],
  ['overflow', { '-': [{ '*': [1e308, 10] }, { '*': [1e308, 10] }] }, user],
  ['max-min', { max: [{ min: [3, 1, 2] }, { var: 'age' }, -1] }, user],
  ['max-empty', { max: [] }, user],
  ['cat', { cat: ['a', 1, true, null, [1, 2], 0.5] }, user],
  ['substr-neg', { substr: ['jsonlogic', -5, -2] }, user],
  ['substr-unicode', { substr: [{ var: 'id' }, 1, 1] }, odd],
  ['in-array', { in: ['staff', { var: 'groups' }] }, user],
  ['in-string', { in: ['Spring', 'Springfield'] }, user],
  ['merge', { merge: [[1, 2], 3, [[4]], { var: 'integers' }] }, user],
  ['map', { map: [{ var: 'integers' }, { '*': [{ var: '' }, 2] }] }, user],
  ['filter', { filter: [{ var: 'integers' }, { '%': [{ var: '' }, 2] }] }, user],
  ['reduce', {
    reduce: [{ var: 'integers' }, { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0],
  }, user],
  ['all', { all: [{ var: 'integers' }, { '>': [{ var: '' }, 0] }] }, user],
  ['all-empty', { all: [[], true] }, user],
  ['none', { none: [[-3, -2, -1], { '>': [{ var: '' }, 0] }] }, user],
  ['some', { some: [{ var: 'pies' }, { '==': [{ var: 'filling' }, 'apple'] }] }, user],
  ['fractional-shorthand', {
    fractional: [['clubs', 25], ['diamonds', 25], ['hearts', 25], ['spades', 25]],
  }, user],
  ['fractional-bucketby', {
    fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] }, ['on', 1], ['off', 1]],
  }, user],
  ['fractional-edge-keys', { fractional: ['ceQdGm', ['a', 1], ['b', 2147483646]] }, user],
  ['fractional-weights', {
    fractional: [['on', { '-': [{ var: '$flagd.timestamp' }, 1690000000] }], ['off', -5], [true],
      [3, 0]],
  }, user],
  ['fractional-nested', {
    fractional: [[{ if: [{ var: 'beta' }, 'x', 'y'] }, 1], [null, 1]],
  }, user],
  ['fractional-bad-key', { fractional: [['a', 1], ['b', 1]] }, odd],
  ['starts-with', { starts_with: [{ var: 'email' }, 'ann'] }, user],
  ['ends-with', { ends_with: [{ var: 'email' }, '@example.com'] }, user],
  ['ends-with-bad', { ends_with: [{ var: 'email' }, 0] }, odd],
  ['semver-eq', { sem_ver: [{ var: 'version' }, '=', '2.1.0-rc.1'] }, user],
  ['semver-ops', {
    and: ['=', '!=', '<', '<=', '>', '>=', '~', '^']
      .map((op) => ({ sem_ver: [{ var: 'version' }, op, 'v2'] })),
  }, user],
  ['semver-number', { sem_ver: [1.2, '<', '1.10'] }, user],
  ['semver-bad', { sem_ver: ['2.0.0.0', '*', '2.0.0'] }, user],
  ['unknown-op', { nope: [1] }, user],
  ['two-keys', { '==': [1, 1], '!=': [1, 2] }, user],
  ['deep', JSON.parse('{"!":'.repeat(20) + 'true' + '}'.repeat(20)), user],
];

const used = new Set();
(function collect(x) {
  if (Array.isArray(x)) x.forEach(collect);
  else if (x && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) { used.add(k); collect(v); }
  }
})(rules.map((r) => r[1]));
const unused = OPERATORS.filter((op) => !used.has(op));
if (unused.length) throw new Error(`no seed rule uses: ${unused.join(' ')}`);

// fuzz_rule splits its input in halves: pad the shorter text with spaces.
function rule_seed(rule, context) {
  let a = JSON.stringify(rule);
  let b = JSON.stringify(context);
  const n = Math.max(Buffer.byteLength(a), Buffer.byteLength(b));
  a += ' '.repeat(n - Buffer.byteLength(a));
  b += ' '.repeat(n - Buffer.byteLength(b));
  return a + b;
}

function flag_doc(entries) {
  const variants = { true: 'T', false: 'F', a: 'A', b: 'B', c: 'C', on: 'ON', off: 'OFF',
    clubs: 'clubs', diamonds: 'diamonds', hearts: 'hearts', spades: 'spades', 1: 'one', 0: 'zero' };
  const flags = {};
  for (const [name, rule] of entries) {
    flags[name] = { state: 'ENABLED', variants, defaultVariant: 'a', targeting: rule };
  }
  return { flags };
}

const out = Object.fromEntries(TARGETS.map((t) => [t, new Map()]));
const add = (target, name, text) => out[target].set(name, text);

// flagd-schemas fixtures.
function fixtures(sub) {
  const dir = join(schemas, sub);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => [`flagd-schemas-${sub.replaceAll('/', '-')}-${basename(f, '.json')}`,
      readFileSync(join(dir, f), 'utf8')]);
}
const flag_fixtures = [
  ...fixtures('test/flags/positive'), ...fixtures('test/flags/negative'),
  ...fixtures('test/flagd/positive'), ...fixtures('examples'),
];
if (flag_fixtures.length === 0) throw new Error(`no fixtures under ${schemas}`);
for (const [name, text] of flag_fixtures) {
  add('fuzz_definitions', name, text);
  add('fuzz_validate', name, text);
}
for (const [name, text] of flag_fixtures.filter(([n]) => /example|minimal|full/.test(n))) {
  add('fuzz_json', name, text);
}
const targeting_fixtures = [
  ...fixtures('test/targeting/positive'), ...fixtures('test/targeting/negative'),
];
for (const [name, text] of targeting_fixtures) {
  const rule = JSON.parse(text);
  add('fuzz_rule', name, rule_seed(rule, user));
  add('fuzz_validate', name, JSON.stringify(flag_doc([['f', rule]]), null, 1));
}

// Handwritten rules, alone and as definitions.
rules.forEach(([name, rule, context], i) => {
  add('fuzz_rule', `rule-${String(i).padStart(2, '0')}-${name}`, rule_seed(rule, context));
});
for (let i = 0; i < rules.length; i += 12) {
  const group = rules.slice(i, i + 12);
  const doc = JSON.stringify(flag_doc(group.map(([name, rule]) => [name, rule])));
  const n = String(i / 12);
  add('fuzz_definitions', `ops-${n}`, doc);
  add('fuzz_definitions', `ops-${n}-with-context`, `${doc}\0${JSON.stringify(group[0][2])}`);
  add('fuzz_validate', `ops-${n}`, doc);
}
add('fuzz_definitions', 'refs-and-array-flags', `${JSON.stringify({
  $evaluators: { staff: { in: ['staff', { var: 'groups' }] }, loop: { $ref: 'loop' } },
  metadata: { flagSetId: 'set', version: 2 },
  flags: [
    { key: 'ref', state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
      targeting: { if: [{ $ref: 'staff' }, 'on', null] }, metadata: { owner: 'me', version: 3 } },
    { key: 'unknown-ref', state: 'ENABLED', variants: { on: 1 }, defaultVariant: 'on',
      targeting: { $ref: 'nope' } },
    { key: 'cyclic', state: 'ENABLED', variants: { on: 'x' }, defaultVariant: 'on',
      targeting: { $ref: 'loop' } },
    { key: 'off', state: 'DISABLED', variants: { on: { a: [1] } }, defaultVariant: 'on' },
    { key: 'nodefault', state: 'ENABLED', variants: { on: true }, defaultVariant: null,
      targeting: { if: [false, 'on'] } },
    { key: 'empty-targeting', state: 'ENABLED', variants: { on: true }, targeting: {} },
    { key: 'no-variant', state: 'ENABLED', variants: { on: true }, defaultVariant: 'on',
      targeting: { var: 'tier' } },
  ],
})}\0${JSON.stringify(user)}`);

// Plain JSON edge cases.
const json_seeds = {
  'numbers': '[0,-0,1.5e-7,1e308,-1e308,4.9e-324,123456789012345678901234567890,' +
    '18446744073709551615,-9223372036854775808,9007199254740993,0.1,1e21,1e-7,100]',
  'strings': '["","\\u0000","\\ud83d\\ude00","\\"\\\\\\/\\b\\f\\n\\r\\t","\u00e9\u65e5","~/~0~1"]',
  'keys': '{"a/b":1,"c~d":2,"":3,"$flagd":{"flagKey":"k"},"dup":1,"dup":2}',
  'deep-ok': '['.repeat(64) + ']'.repeat(64),
  'deep-bad': '['.repeat(65) + ']'.repeat(65),
  'brackets-in-strings': '{"a":"[[[[{{{{","b":"\\"[["}',
  'literals': '[true,false,null,{},[],{"a":[{}]}]',
  'truncated': '{"flags":{"a":{"state":"ENABLED","variants":{"on":tr',
  'bad-escape': '["\\x41","\\ud800"]',
  'trailing': '{"a":1} {"b":2}',
  'whitespace': ' \t\r\n{ "a" : [ 1 , 2 ] }\n',
  // Found by fuzz_json: nlohmann reports out-of-range numbers with out_of_range, not
  // parse_error, and ff::json::parse let it escape.
  'number-overflow': '[1e400,-31e308,{"a":1e999}]',
};
for (const [name, text] of Object.entries(json_seeds)) add('fuzz_json', name, text);

for (const target of TARGETS) {
  const dir = join(corpus, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of out[target]) writeFileSync(join(dir, name), text);
  console.log(`${target}: ${out[target].size} seeds`);
}
