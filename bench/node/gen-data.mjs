// Generates the benchmark inputs shared by the C++ (bench_engine) and node (bench.mjs) sides:
//   bench/data/single.json    the three single-rule workload flags
//   bench/data/mixed100.json  100 mixed flags for the resolve-all workload
//   bench/data/contexts.json  1,000 evaluation contexts, cycled by both sides
// Deterministic (fixed-seed PRNG): running it again rewrites identical files. `--check` exits 1
// when the committed files differ from what the generator would write.
//
// Rules avoid $flagd.timestamp (the node side cannot fix the clock) and inputs that make a
// rule fail at run time (flagd-core reports GENERAL where flagd reports PARSE_ERROR), so both
// sides take the same, successful path and produce identical variants (see bench.mjs --check).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const data_dir = join(here, '..', 'data');

// mulberry32: small, well-known, deterministic.
function make_rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = make_rng(0xf1ee7f1a);
const int = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rng() * xs.length)];

const TIERS = ['free', 'free', 'free', 'pro', 'pro', 'enterprise', 'internal'];
const COUNTRIES = ['US', 'CA', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'SE', 'JP', 'BR', 'IN', 'AU'];
const PLATFORMS = ['ios', 'android', 'web', 'desktop'];
const DOMAINS = ['example.com', 'example.org', 'corp.example.net', 'mail.example.io'];
const GROUPS = ['beta', 'staff', 'qa', 'early', 'partners'];

function version() {
  const v = `${int(0, 4)}.${int(0, 12)}.${int(0, 20)}`;
  const r = rng();
  if (r < 0.1) return `${v}-beta.${int(1, 5)}`;
  if (r < 0.15) return `${v}-rc.${int(1, 3)}`;
  if (r < 0.2) return `v${v}`;
  return v;
}

function context(i) {
  const name = `user-${String(i).padStart(5, '0')}-${int(0, 0xffffff).toString(36)}`;
  const groups = GROUPS.filter(() => rng() < 0.25);
  return {
    targetingKey: name,
    tier: pick(TIERS),
    email: `${name}@${pick(DOMAINS)}`,
    country: pick(COUNTRIES),
    version: version(),
    age: int(13, 80),
    beta: rng() < 0.3,
    groups,
    app: { platform: pick(PLATFORMS), build: int(100, 999) },
  };
}

const contexts = Array.from({ length: 1000 }, (_, i) => context(i));

const single = {
  flags: {
    'targeted-bool': {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: { if: [{ '==': [{ var: 'tier' }, 'internal'] }, 'on', 'off'] },
    },
    'fractional-4': {
      state: 'ENABLED',
      variants: { clubs: 'clubs', diamonds: 'diamonds', hearts: 'hearts', spades: 'spades' },
      defaultVariant: 'clubs',
      targeting: {
        fractional: [['clubs', 25], ['diamonds', 25], ['hearts', 25], ['spades', 25]],
      },
    },
    'semver-gate': {
      state: 'ENABLED',
      variants: { new: 'new-ui', old: 'old-ui' },
      defaultVariant: 'old',
      targeting: { if: [{ sem_ver: [{ var: 'version' }, '>=', '2.1.0'] }, 'new', 'old'] },
    },
  },
};

const BOOL = { on: true, off: false };
const SEMVER_OPS = ['=', '!=', '<', '<=', '>', '>=', '~', '^'];

// One generator per flag shape; the mixed set cycles through them with random parameters.
const shapes = [
  () => ({ variants: BOOL, defaultVariant: pick(['on', 'off']) }),  // static boolean
  () => ({
    variants: { blue: 'blue', green: 'green', red: 'red' },
    defaultVariant: pick(['blue', 'green', 'red']),
  }),  // static string
  () => ({
    variants: BOOL,
    defaultVariant: 'off',
    targeting: { if: [{ '==': [{ var: 'tier' }, pick(TIERS)] }, 'on', 'off'] },
  }),
  () => ({
    variants: BOOL,
    defaultVariant: 'off',
    targeting: {
      if: [{ in: [{ var: 'country' }, COUNTRIES.filter(() => rng() < 0.3)] }, 'on', 'off'],
    },
  }),
  () => {
    const n = int(2, 4);
    const names = ['a', 'b', 'c', 'd'].slice(0, n);
    return {
      variants: Object.fromEntries(names.map((v) => [v, `variant-${v}`])),
      defaultVariant: 'a',
      targeting: { fractional: names.map((v) => [v, int(1, 50)]) },
    };
  },
  () => ({
    variants: { new: 'new', old: 'old' },
    defaultVariant: 'old',
    targeting: {
      if: [{ sem_ver: [{ var: 'version' }, pick(SEMVER_OPS), `${int(0, 4)}.${int(0, 12)}.0`] },
        'new', 'old'],
    },
  }),
  () => ({
    variants: BOOL,
    defaultVariant: 'off',
    targeting: {
      if: [{ or: [{ ends_with: [{ var: 'email' }, `@${pick(DOMAINS)}`] },
        { starts_with: [{ var: 'targetingKey' }, `user-00${int(0, 9)}`] }] }, 'on', 'off'],
    },
  }),
  () => ({
    variants: { small: 1, medium: 10, large: 100 },
    defaultVariant: 'small',
    targeting: {
      if: [
        { and: [{ '>=': [{ var: 'age' }, int(18, 40)] }, { '==': [{ var: 'app.platform' },
          pick(PLATFORMS)] }] }, 'large',
        { '<': [{ var: 'app.build' }, int(200, 900)] }, 'medium',
        'small',
      ],
    },
  }),
  () => ({
    variants: {
      compact: { layout: 'compact', columns: 1 },
      wide: { layout: 'wide', columns: 3, sidebar: true },
    },
    defaultVariant: 'compact',
    targeting: {
      if: [{ '!': [{ in: [{ var: 'tier' }, ['free', 'pro']] }] }, 'wide', 'compact'],
    },
  }),
  () => ({
    variants: BOOL,
    defaultVariant: 'off',
    targeting: { if: [{ $ref: pick(['is-staff', 'is-mobile']) }, 'on', null] },
  }),
  () => ({
    variants: BOOL,
    defaultVariant: 'off',
    targeting: {
      if: [{ some: [{ var: 'groups' }, { '==': [{ var: '' }, pick(GROUPS)] }] }, 'on', 'off'],
    },
  }),
  () => ({
    variants: { control: 'control', treatment: 'treatment' },
    defaultVariant: 'control',
    targeting: {
      if: [
        { '==': [{ var: 'tier' }, 'internal'] }, 'treatment',
        { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] },
          ['control', 50], ['treatment', 50]] },
      ],
    },
  }),
];

const mixed = {
  $evaluators: {
    'is-staff': { or: [{ '==': [{ var: 'tier' }, 'internal'] },
      { in: ['staff', { var: 'groups' }] }] },
    'is-mobile': { in: [{ var: 'app.platform' }, ['ios', 'android']] },
  },
  metadata: { flagSetId: 'bench-mixed', version: '1' },
  flags: {},
};
for (let i = 0; i < 100; i++) {
  const flag = shapes[i % shapes.length]();
  // A few disabled flags, as in any real set.
  const state = i % 17 === 16 ? 'DISABLED' : 'ENABLED';
  mixed.flags[`flag-${String(i).padStart(3, '0')}`] = { state, ...flag };
}

const outputs = {
  'single.json': single,
  'mixed100.json': mixed,
  'contexts.json': contexts,
};

const check = process.argv.includes('--check');
let stale = false;
mkdirSync(data_dir, { recursive: true });
for (const [name, doc] of Object.entries(outputs)) {
  // Contexts: one per line, so diffs and greps stay readable.
  const text = Array.isArray(doc)
    ? `[\n${doc.map((c) => JSON.stringify(c)).join(',\n')}\n]\n`
    : `${JSON.stringify(doc, null, 2)}\n`;
  const path = join(data_dir, name);
  if (check) {
    let old = '';
    try { old = readFileSync(path, 'utf8'); } catch { /* missing counts as stale */ }
    if (old !== text) {
      console.error(`stale: ${path}`);
      stale = true;
    }
  } else {
    writeFileSync(path, text);
  }
}
process.exit(stale ? 1 : 0);
