// flagd.evaluation.v1 unary methods over Connect/JSON (flagd-schemas/protobuf/evaluation.proto,
// flagd-notes.md §4b).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const SVC = '/flagd.evaluation.v1.Service';
const META = { flagSetId: 'fleet', version: 3 };

test('ResolveAll: AnyFlag oneof per type, integers as doubleValue, v1 skips', async () => {
  const r = await post(srv.port, `${SVC}/ResolveAll`, { context: { targetingKey: 'half' } },
    { 'Connect-Protocol-Version': '1' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.deepEqual(r.json.metadata, META);
  const f = r.json.flags;
  assert.deepEqual(f['bool-flag'], { reason: 'STATIC', variant: 'on', boolValue: true, metadata: META });
  assert.deepEqual(f['int-flag'], { reason: 'TARGETING_MATCH', variant: 'half', doubleValue: 0.5, metadata: META });
  assert.deepEqual(f['string-flag'], { reason: 'STATIC', variant: 'a', stringValue: 'A', metadata: { ...META, owner: 'ops' } });
  assert.deepEqual(f['object-flag'], { reason: 'STATIC', variant: 'x', objectValue: { k: 1, s: 'v' }, metadata: META });
  // skipped: disabled, and every flag without a default variant (even when targeting matches)
  assert.equal(f['disabled-flag'], undefined);
  assert.equal(f['no-default'], undefined);
  assert.equal(f['no-default-targeted'], undefined);
  // errored flags: reason ERROR, empty variant, zero value of the default variant's type
  assert.deepEqual(f['missing-variant'], { reason: 'ERROR', variant: '', boolValue: false, metadata: META });
  assert.deepEqual(f.unparsable, { reason: 'ERROR', variant: '', boolValue: false, metadata: META });

  const ints = await post(srv.port, `${SVC}/ResolveAll`, {});
  assert.equal(ints.json.flags['int-flag'].doubleValue, 10);
  assert.match(ints.text, /"doubleValue":10[,}]/);
});

test('ResolveBoolean/String/Float/Object: value, reason, variant, metadata', async () => {
  let r = await post(srv.port, `${SVC}/ResolveBoolean`, { flagKey: 'bool-flag', context: {} });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { value: true, reason: 'STATIC', variant: 'on', metadata: META });
  r = await post(srv.port, `${SVC}/ResolveString`, { flagKey: 'string-flag' });
  assert.deepEqual(r.json, { value: 'A', reason: 'STATIC', variant: 'a', metadata: { ...META, owner: 'ops' } });
  r = await post(srv.port, `${SVC}/ResolveFloat`, { flagKey: 'int-flag', context: { targetingKey: 'half' } });
  assert.deepEqual(r.json, { value: 0.5, reason: 'TARGETING_MATCH', variant: 'half', metadata: META });
  r = await post(srv.port, `${SVC}/ResolveObject`, { flagKey: 'object-flag' });
  assert.deepEqual(r.json.value, { k: 1, s: 'v' });
});

test('ResolveInt: value is a JSON string (protojson int64), truncated', async () => {
  let r = await post(srv.port, `${SVC}/ResolveInt`, { flagKey: 'int-flag' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { value: '10', reason: 'DEFAULT', variant: 'ten', metadata: META });
  assert.match(r.text, /"value":"10"/);
  r = await post(srv.port, `${SVC}/ResolveInt`, { flagKey: 'int-flag', context: { targetingKey: 'big' } });
  assert.equal(r.json.value, '9007199254740991');
  r = await post(srv.port, `${SVC}/ResolveInt`, { flagKey: 'int-flag', context: { targetingKey: 'half' } });
  assert.equal(r.json.value, '0');
});

test('disabled flag: 200, reason DISABLED, zero value, empty variant', async () => {
  const zero = { ResolveBoolean: false, ResolveString: '', ResolveFloat: 0, ResolveInt: '0', ResolveObject: {} };
  for (const [m, z] of Object.entries(zero)) {
    const r = await post(srv.port, `${SVC}/${m}`, { flagKey: 'disabled-flag' });
    assert.equal(r.status, 200, m);
    assert.deepEqual(r.json, { value: z, reason: 'DISABLED', variant: '', metadata: META }, m);
  }
});

test('errors: Connect error JSON with the flagd code mapping', async () => {
  const cases = [
    ['ResolveBoolean', 'nope', 404, 'not_found'],
    ['ResolveBoolean', 'no-default', 404, 'not_found'], // v1 "old proto behaviour"
    ['ResolveString', 'bool-flag', 400, 'invalid_argument'],
    ['ResolveInt', 'string-flag', 400, 'invalid_argument'],
    ['ResolveObject', 'bool-flag', 400, 'invalid_argument'],
    ['ResolveBoolean', 'unparsable', 500, 'data_loss'],
    ['ResolveBoolean', 'missing-variant', 500, 'unknown'],
  ];
  for (const [m, key, status, code] of cases) {
    const r = await post(srv.port, `${SVC}/${m}`, { flagKey: key });
    assert.equal(r.status, status, `${m} ${key}`);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
    assert.equal(r.json.code, code, `${m} ${key}`);
  }
  const nf = await post(srv.port, `${SVC}/ResolveBoolean`, { flagKey: 'nope' });
  assert.equal(nf.json.message, 'FlagdError:, FLAG_NOT_FOUND');
});

test('no-default flag resolves when targeting matches', async () => {
  const r = await post(srv.port, `${SVC}/ResolveBoolean`, { flagKey: 'no-default-targeted', context: { targetingKey: 'u1' } });
  assert.equal(r.status, 200);
  assert.equal(r.json.value, true);
  assert.equal(r.json.reason, 'TARGETING_MATCH');
});

test('protocol errors: 415 on other content types, 400 invalid_argument on bad bodies', async () => {
  let r = await post(srv.port, `${SVC}/ResolveAll`, '{}', { 'Content-Type': 'application/proto' });
  assert.equal(r.status, 415);
  r = await post(srv.port, `${SVC}/ResolveAll`, '{}', { 'Content-Type': 'application/json; charset=utf-8' });
  assert.equal(r.status, 200);
  for (const body of ['{', '[]', '{"context":5}', '{"flagKey":5}']) {
    r = await post(srv.port, `${SVC}/ResolveBoolean`, body);
    assert.equal(r.status, 400, body);
    assert.equal(r.json.code, 'invalid_argument');
  }
  r = await post(srv.port, `${SVC}/ResolveAll`, '');
  assert.equal(r.status, 200);
  r = await post(srv.port, `${SVC}/NoSuchMethod`, '{}');
  assert.equal(r.status, 404);
});
