// OFREP shapes (shared/reference/ofrep/openapi.yaml, flagd-notes.md §4a).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, post, request, control } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const BULK = '/ofrep/v1/evaluate/flags';
const byKey = (flags) => Object.fromEntries(flags.map((f) => [f.key, f]));

test('bulk: every flag, success / code-default / error entries, set metadata', async () => {
  const r = await post(srv.port, BULK, { context: { targetingKey: 'half' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.deepEqual(Object.keys(r.json).sort(), ['flags', 'metadata']);
  assert.deepEqual(r.json.metadata, { flagSetId: 'fleet', version: 3 });
  const f = byKey(r.json.flags);
  assert.equal(r.json.flags.length, 10);
  assert.deepEqual(f['bool-flag'], {
    key: 'bool-flag', value: true, reason: 'STATIC', variant: 'on', metadata: { flagSetId: 'fleet', version: 3 },
  });
  assert.deepEqual(f['int-flag'], {
    key: 'int-flag', value: 0.5, reason: 'TARGETING_MATCH', variant: 'half', metadata: { flagSetId: 'fleet', version: 3 },
  });
  // flag metadata merged over set metadata
  assert.deepEqual(f['string-flag'].metadata, { flagSetId: 'fleet', version: 3, owner: 'ops' });
  assert.deepEqual(f['object-flag'].value, { k: 1, s: 'v' });
  // code defaults: no value, no variant
  assert.deepEqual(f['disabled-flag'], { key: 'disabled-flag', reason: 'DISABLED', metadata: { flagSetId: 'fleet', version: 3 } });
  assert.deepEqual(f['no-default'], { key: 'no-default', reason: 'DEFAULT', metadata: { flagSetId: 'fleet', version: 3 } });
  assert.equal(f['no-default-targeted'].value, undefined);
  // errors
  assert.equal(f['missing-variant'].errorCode, 'GENERAL');
  assert.equal(typeof f['missing-variant'].errorDetails, 'string');
  assert.equal(f['missing-variant'].value, undefined);
  assert.equal(f.unparsable.errorCode, 'PARSE_ERROR');
});

test('bulk: ETag is the quoted sha256 of the body; If-None-Match gives 304', async () => {
  const ctx = { context: { targetingKey: 'u1' } };
  const r = await post(srv.port, BULK, ctx);
  const etag = `"${crypto.createHash('sha256').update(r.body).digest('hex')}"`;
  assert.equal(r.headers.etag, etag);

  for (const inm of [etag, `W/${etag}`, etag.slice(1, -1), `"nope", ${etag}`, '*']) {
    const n = await post(srv.port, BULK, ctx, { 'If-None-Match': inm });
    assert.equal(n.status, 304, inm);
    assert.equal(n.body.length, 0);
    assert.equal(n.headers.etag, etag);
    assert.equal(n.headers['content-type'], undefined);
  }
  const miss = await post(srv.port, BULK, ctx, { 'If-None-Match': '"other"' });
  assert.equal(miss.status, 200);

  // another context with other values: another ETag, and the old one does not 304
  const other = await post(srv.port, BULK, { context: { targetingKey: 'half' } }, { 'If-None-Match': etag });
  assert.equal(other.status, 200);
  assert.notEqual(other.headers.etag, etag);
});

test('bulk: ETag changes when the flags change', async () => {
  const before1 = await post(srv.port, BULK, {});
  const flags = JSON.parse(JSON.stringify((await import('./helpers.mjs')).FLAGS));
  flags.flags['bool-flag'].defaultVariant = 'off';
  await control(srv.port, 'PUT', '/_control/flags', flags);
  try {
    const after1 = await post(srv.port, BULK, {}, { 'If-None-Match': before1.headers.etag });
    assert.equal(after1.status, 200);
    assert.equal(byKey(after1.json.flags)['bool-flag'].value, false);
  } finally {
    await control(srv.port, 'PUT', '/_control/flags', (await import('./helpers.mjs')).FLAGS);
  }
});

test('bulk: empty body and trailing slash are accepted', async () => {
  const r = await request(srv.port, 'POST', `${BULK}/`);
  assert.equal(r.status, 200);
  assert.equal(r.json.flags.length, 10);
});

test('bad bodies give 400 INVALID_CONTEXT', async () => {
  for (const body of ['not json', '[1]', '{"context":[1]}', '{"context":"x"}']) {
    const r = await post(srv.port, BULK, body);
    assert.equal(r.status, 400, body);
    assert.equal(r.json.errorCode, 'INVALID_CONTEXT');
    assert.equal(typeof r.json.errorDetails, 'string');
    const s = await post(srv.port, `${BULK}/bool-flag`, body);
    assert.equal(s.status, 400);
    assert.equal(s.json.key, 'bool-flag');
    assert.equal(s.json.errorCode, 'INVALID_CONTEXT');
  }
});

test('single: 200 success / code default, 404 FLAG_NOT_FOUND, 400 evaluation errors', async () => {
  let r = await post(srv.port, `${BULK}/int-flag`, { context: { targetingKey: 'big' } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, {
    key: 'int-flag', value: 9007199254740991, reason: 'TARGETING_MATCH', variant: 'big',
    metadata: { flagSetId: 'fleet', version: 3 },
  });
  assert.equal(r.headers.etag, undefined);

  r = await post(srv.port, `${BULK}/disabled-flag`, {});
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { key: 'disabled-flag', reason: 'DISABLED', metadata: { flagSetId: 'fleet', version: 3 } });

  r = await post(srv.port, `${BULK}/no-default-targeted`, { context: { targetingKey: 'u1' } });
  assert.equal(r.json.value, true);
  assert.equal(r.json.reason, 'TARGETING_MATCH');

  r = await post(srv.port, `${BULK}/nope`, {});
  assert.equal(r.status, 404);
  assert.equal(r.json.key, 'nope');
  assert.equal(r.json.errorCode, 'FLAG_NOT_FOUND');
  assert.equal(typeof r.json.errorDetails, 'string');

  r = await post(srv.port, `${BULK}/missing-variant`, {});
  assert.equal(r.status, 400);
  assert.equal(r.json.errorCode, 'GENERAL');
  r = await post(srv.port, `${BULK}/unparsable`, {});
  assert.equal(r.status, 400);
  assert.equal(r.json.errorCode, 'PARSE_ERROR');
});

test('single: percent-encoded keys', async () => {
  const flags = { flags: { 'a b/c': { state: 'ENABLED', variants: { on: 'x' }, defaultVariant: 'on' } } };
  await control(srv.port, 'PUT', '/_control/flags', flags);
  try {
    const r = await post(srv.port, `${BULK}/${encodeURIComponent('a b/c')}`, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.key, 'a b/c');
    assert.equal(r.json.value, 'x');
  } finally {
    await control(srv.port, 'PUT', '/_control/flags', (await import('./helpers.mjs')).FLAGS);
  }
});

test('$flagd.timestamp follows /_control/now', async () => {
  await control(srv.port, 'POST', '/_control/now', { now: 1767225599 });
  let r = await post(srv.port, `${BULK}/time-flag`, {});
  assert.equal(r.json.value, 'before');
  await control(srv.port, 'POST', '/_control/now', { now: 1767225600 });
  r = await post(srv.port, `${BULK}/time-flag`, {});
  assert.equal(r.json.value, 'after');
  await control(srv.port, 'POST', '/_control/now', { now: null });
  r = await post(srv.port, `${BULK}/time-flag`, {});
  assert.equal(r.json.value, Date.now() / 1000 >= 1767225600 ? 'after' : 'before');
});

test('GET on OFREP routes is 405', async () => {
  const r = await request(srv.port, 'GET', BULK);
  assert.equal(r.status, 405);
});
