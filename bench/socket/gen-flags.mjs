// Writes a flagd definitions file with N flags (default 1000) and mixed rules to stdout, for the
// agent-footprint benchmark (RSS with N flags cached, time to serve from cache). Deterministic:
// flag i uses template i % 12, so the same N always gives the same bytes.
//
//   node bench/socket/gen-flags.mjs [N] > flags1000.json
const n = Number(process.argv[2] ?? 1000);
if (!Number.isInteger(n) || n < 1) {
  console.error('usage: gen-flags.mjs [N]');
  process.exit(2);
}

const bool = { on: true, off: false };
const ifVar = (cond, a = 'on', b = 'off') => ({ if: [cond, a, b] });
const templates = [
  // static boolean
  () => ({ state: 'ENABLED', variants: bool, defaultVariant: 'off' }),
  // static string with flag metadata
  (i) => ({
    state: 'ENABLED',
    variants: { blue: 'blue', green: 'green', red: 'red' },
    defaultVariant: ['blue', 'green', 'red'][i % 3],
    metadata: { owner: `team-${i % 7}`, ticket: `OPS-${1000 + i}` },
  }),
  // equality on a context attribute
  () => ({
    state: 'ENABLED',
    variants: bool,
    defaultVariant: 'off',
    targeting: ifVar({ '==': [{ var: 'tier' }, 'internal'] }),
  }),
  // membership
  (i) => ({
    state: 'ENABLED',
    variants: bool,
    defaultVariant: 'off',
    targeting: ifVar({ in: [{ var: 'region' }, ['eu-west-1', 'eu-central-1', `r-${i}`]] }),
  }),
  // fractional rollout on targetingKey
  (i) => ({
    state: 'ENABLED',
    variants: { a: 'variant-a', b: 'variant-b', c: 'variant-c' },
    defaultVariant: 'a',
    targeting: { fractional: [['a', 10 + (i % 50)], ['b', 40], ['c', 10]] },
  }),
  // sem_ver on the agent version
  () => ({
    state: 'ENABLED',
    variants: { new: 'new', old: 'old' },
    defaultVariant: 'old',
    targeting: ifVar({ sem_ver: [{ var: 'agentVersion' }, '>=', '0.1.0'] }, 'new', 'old'),
  }),
  // string operators combined
  () => ({
    state: 'ENABLED',
    variants: bool,
    defaultVariant: 'off',
    targeting: ifVar({
      or: [
        { starts_with: [{ var: 'targetingKey' }, 'web-'] },
        { ends_with: [{ var: 'hostname' }, '.prod.example.org'] },
      ],
    }),
  }),
  // shared evaluator through $ref
  () => ({
    state: 'ENABLED',
    variants: bool,
    defaultVariant: 'off',
    targeting: ifVar({ $ref: 'is-canary' }),
  }),
  // object variants (configuration blobs)
  (i) => ({
    state: 'ENABLED',
    variants: {
      small: { workers: 2, cacheMb: 64, features: ['a', 'b'] },
      large: { workers: 8 + (i % 4), cacheMb: 512, features: ['a', 'b', 'c', 'd'] },
    },
    defaultVariant: 'small',
    targeting: ifVar({ '==': [{ var: 'tier' }, 'large'] }, 'large', 'small'),
  }),
  // integer variants with a time window
  () => ({
    state: 'ENABLED',
    variants: { low: 10, high: 100 },
    defaultVariant: 'low',
    targeting: ifVar({ '>': [{ var: '$flagd.timestamp' }, 1767225600] }, 'high', 'low'),
  }),
  // nested fractional inside a condition
  () => ({
    state: 'ENABLED',
    variants: bool,
    defaultVariant: 'off',
    targeting: ifVar(
      { '==': [{ var: 'env' }, 'prod'] },
      { fractional: [['on', 5], ['off', 95]] },
      'on',
    ),
  }),
  // disabled
  () => ({ state: 'DISABLED', variants: bool, defaultVariant: 'on' }),
];

const flags = {};
for (let i = 0; i < n; ++i) {
  flags[`flag-${String(i).padStart(4, '0')}`] = templates[i % templates.length](i);
}
const doc = {
  $evaluators: {
    'is-canary': { in: [{ var: 'targetingKey' }, ['canary-1', 'canary-2', 'canary-3']] },
  },
  metadata: { flagSetId: 'bench-footprint', version: '1' },
  flags,
};
process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
