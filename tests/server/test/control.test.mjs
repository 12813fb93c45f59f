// Definitions over HTTP, the control API and every failure mode (tests/server/README.md §3-4).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startServer, request, post, control, openStream, FLAGS } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer({ flags: `${JSON.stringify(FLAGS, null, 2)}\n` }); });
after(async () => { await srv.stop(); });

const BULK = '/ofrep/v1/evaluate/flags';
const ALL = '/flagd.evaluation.v1.Service/ResolveAll';
const STREAM = '/flagd.evaluation.v1.Service/EventStream';
const setMode = (m) => control(srv.port, 'POST', '/_control/mode', m);
const reset = () => control(srv.port, 'POST', '/_control/reset', {});
const sha = (t) => `"${crypto.createHash('sha256').update(t).digest('hex')}"`;

// Raw exchange that tolerates truncated/destroyed responses: resolves to everything received.
function rawExchange(port, head, body = '') {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let raw = Buffer.alloc(0);
    sock.on('data', (d) => { raw = Buffer.concat([raw, d]); });
    sock.on('close', () => resolve(raw));
    sock.on('error', () => {});
    sock.end(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}

test('GET /flags.json: the text byte for byte, strong ETag, 304', async () => {
  const text = `${JSON.stringify(FLAGS, null, 2)}\n`;
  const r = await request(srv.port, 'GET', '/flags.json');
  assert.equal(r.status, 200);
  assert.equal(r.text, text);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.headers.etag, sha(text));
  const n = await request(srv.port, 'GET', '/flags.json', { headers: { 'If-None-Match': sha(text) } });
  assert.equal(n.status, 304);
  assert.equal(n.body.length, 0);

  const next = JSON.stringify({ flags: { only: { state: 'ENABLED', variants: { a: 1 }, defaultVariant: 'a' } } });
  await control(srv.port, 'PUT', '/_control/flags', next);
  const c = await request(srv.port, 'GET', '/flags.json', { headers: { 'If-None-Match': sha(text) } });
  assert.equal(c.status, 200);
  assert.equal(c.text, next);
  assert.equal((await request(srv.port, 'GET', '/flags.yaml')).status, 404);

  // raw=1: only /flags.json changes; evaluation keeps the last good set
  const rawText = '{"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"missing"}}}';
  const rr = await request(srv.port, 'PUT', '/_control/flags?raw=1', { body: rawText });
  assert.deepEqual(rr.json, { changed: {} });
  assert.equal((await request(srv.port, 'GET', '/flags.json')).text, rawText);
  const e = await post(srv.port, BULK, {});
  assert.deepEqual(e.json.flags.map((f) => f.key), ['only']);
  await control(srv.port, 'PUT', '/_control/flags', FLAGS);
});

test('stats: counts and last request per path (headers, parsed body), control not counted', async () => {
  await reset();
  await post(srv.port, BULK, { context: { a: 1 } }, { 'Flagd-Selector': 'fleet', Authorization: 'Bearer x' });
  await post(srv.port, BULK, 'not json');
  await request(srv.port, 'GET', '/flags.json', { headers: { 'If-None-Match': '"x"' } });
  const s = await control(srv.port, 'GET', '/_control/stats');
  assert.equal(s.requests[BULK], 2);
  assert.equal(s.requests['/flags.json'], 1);
  assert.equal(Object.keys(s.requests).some((k) => k.startsWith('/_control')), false);
  assert.equal(s.last[BULK].body, 'not json');
  assert.equal(s.last[BULK].method, 'POST');
  assert.equal(s.last['/flags.json'].headers['if-none-match'], '"x"');
  await reset();
  await post(srv.port, BULK, { context: { a: 1 } }, { 'Flagd-Selector': 'fleet', Authorization: 'Bearer x' });
  const t = await control(srv.port, 'GET', '/_control/stats');
  assert.deepEqual(t.last[BULK].body, { context: { a: 1 } });
  assert.equal(t.last[BULK].headers['flagd-selector'], 'fleet');
  assert.equal(t.last[BULK].headers.authorization, 'Bearer x');
  assert.deepEqual(Object.keys(t.requests), [BULK]);
});

test('auth: Bearer token required when set', async () => {
  await control(srv.port, 'POST', '/_control/auth', { token: 's3cret' });
  try {
    let r = await post(srv.port, BULK, {});
    assert.equal(r.status, 401);
    assert.equal(r.json.errorCode, 'GENERAL');
    r = await post(srv.port, ALL, {});
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 'unauthenticated');
    r = await post(srv.port, BULK, {}, { Authorization: 'Bearer s3cret' });
    assert.equal(r.status, 200);
  } finally {
    await reset();
  }
  assert.equal((await post(srv.port, BULK, {})).status, 200);
});

test('mode down: socket closed without a response', async () => {
  await setMode({ mode: 'down' });
  try {
    await assert.rejects(post(srv.port, BULK, {}));
    const raw = await rawExchange(srv.port, `GET /flags.json HTTP/1.1\r\nHost: x\r\n`);
    assert.equal(raw.length, 0);
    const s = await control(srv.port, 'GET', '/_control/stats');
    assert.ok(s.requests[BULK] >= 1); // counted though not answered
  } finally {
    await reset();
  }
});

test('mode status: route-shaped error bodies and Retry-After', async () => {
  await setMode({ mode: 'status', status: 429, retryAfter: 7 });
  try {
    let r = await post(srv.port, BULK, {});
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '7');
    assert.equal(r.json.errorCode, 'GENERAL');
    r = await post(srv.port, `${BULK}/bool-flag`, {});
    assert.equal(r.json.key, 'bool-flag');
    r = await post(srv.port, ALL, {});
    assert.equal(r.status, 429);
    assert.equal(r.json.code, 'resource_exhausted');
    r = await request(srv.port, 'GET', '/flags.json');
    assert.equal(r.status, 429);
    assert.equal(typeof r.json.error, 'string');
    await setMode({ mode: 'status', status: 503 });
    r = await post(srv.port, ALL, {});
    assert.equal(r.status, 503);
    assert.equal(r.json.code, 'unavailable');
    assert.equal(r.headers['retry-after'], undefined);
    r = await post(srv.port, STREAM, Buffer.from([0, 0, 0, 0, 2, 123, 125]), { 'Content-Type': 'application/connect+json' });
    assert.equal(r.status, 503);
    // control routes are never affected
    assert.deepEqual(await control(srv.port, 'GET', '/_control/health'), { ok: true });
  } finally {
    await reset();
  }
});

test('mode routes and times', async () => {
  await setMode({ mode: 'status', status: 500, routes: ['/flagd.evaluation.v1.Service/'], times: 2 });
  try {
    assert.equal((await post(srv.port, BULK, {})).status, 200);
    assert.equal((await post(srv.port, ALL, {})).status, 500);
    assert.equal((await post(srv.port, BULK, {})).status, 200);
    assert.equal((await post(srv.port, ALL, {})).status, 500);
    assert.equal((await post(srv.port, ALL, {})).status, 200); // reverted to normal
  } finally {
    await reset();
  }
  const bad = await request(srv.port, 'POST', '/_control/mode', { body: { mode: 'bogus' } });
  assert.equal(bad.status, 400);
});

test('mode garbage: 200 with bytes that are not JSON', async () => {
  await setMode({ mode: 'garbage' });
  try {
    for (const [m, t] of [['POST', BULK], ['POST', ALL], ['GET', '/flags.json']]) {
      const r = await request(srv.port, m, t, { body: m === 'POST' ? '{}' : undefined, headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 200);
      assert.throws(() => JSON.parse(r.text));
      assert.ok(r.body.includes(0xff));
    }
    const s = await openStream(srv.port);
    const m = await s.next();
    assert.equal(m.flags, 0);
    assert.equal(m.json, undefined);
    assert.equal((await s.next()).flags, 0x02);
  } finally {
    await reset();
  }
});

test('mode wrongtype: valid JSON of the wrong shape', async () => {
  await setMode({ mode: 'wrongtype' });
  try {
    assert.equal(typeof (await post(srv.port, BULK, {})).json.flags, 'string');
    const single = (await post(srv.port, `${BULK}/bool-flag`, {})).json;
    assert.equal(typeof single.reason, 'number');
    const all = (await post(srv.port, ALL, {})).json;
    assert.equal(typeof all.flags.f.boolValue, 'string');
    const one = (await post(srv.port, '/flagd.evaluation.v1.Service/ResolveBoolean', { flagKey: 'bool-flag' })).json;
    assert.equal(typeof one.value, 'object');
    assert.equal((await request(srv.port, 'GET', '/flags.json')).json.flags, 'nope');
    const s = await openStream(srv.port);
    assert.deepEqual((await s.next()).json, [1, 2, 3]);
  } finally {
    await reset();
  }
});

test('mode slow: answers normally after delayMs', async () => {
  await setMode({ mode: 'slow', delayMs: 300, routes: [BULK] });
  try {
    const t0 = Date.now();
    const r = await post(srv.port, BULK, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.flags.length, 10);
    assert.ok(Date.now() - t0 >= 250);
    const s = await openStream(srv.port); // not in routes: immediate
    assert.equal((await s.next()).json.type, 'provider_ready');
    s.close();
  } finally {
    await reset();
  }
});

test('mode huge: valid JSON of about hugeBytes, chunked or with Content-Length', async () => {
  const size = 3 * 1024 * 1024;
  try {
    for (const [m, t, check] of [
      ['POST', BULK, (j) => Array.isArray(j.flags) && j.flags.length > 1000],
      ['POST', ALL, (j) => Object.keys(j.flags).length > 1000],
      ['GET', '/flags.json', (j) => Object.keys(j.flags).length > 1000],
      ['POST', `${BULK}/bool-flag`, (j) => j.value.length > 1000],
    ]) {
      for (const contentLength of [false, true]) {
        await setMode({ mode: 'huge', hugeBytes: size, contentLength });
        const r = await request(srv.port, m, t, { body: m === 'POST' ? '{}' : undefined });
        assert.equal(r.status, 200);
        assert.ok(Math.abs(r.body.length - size) < 200, `${t} ${r.body.length}`);
        assert.ok(check(JSON.parse(r.text)), t);
        if (contentLength) assert.equal(Number(r.headers['content-length']), r.body.length);
        else assert.equal(r.headers['transfer-encoding'], 'chunked');
      }
    }
    await setMode({ mode: 'huge', hugeBytes: size });
    const s = await openStream(srv.port);
    const m = await s.next();
    assert.equal(m.raw.length, size);
    assert.equal(m.json.type, 'provider_ready');
    // default size: ~50 MiB, streamed (only the length is checked here)
    await setMode({ mode: 'huge', routes: [BULK] });
    const big = await post(srv.port, BULK, {});
    assert.ok(big.body.length >= 50 * 1024 * 1024 && big.body.length < 50 * 1024 * 1024 + 200);
  } finally {
    await reset();
  }
});

test('mode truncate: Content-Length larger than what is sent, then close', async () => {
  await setMode({ mode: 'truncate' });
  try {
    const raw = (await rawExchange(srv.port, `POST ${BULK} HTTP/1.1\r\nHost: x\r\n`, '{}')).toString('latin1');
    const [head, body] = raw.split('\r\n\r\n');
    const cl = Number(/content-length: (\d+)/i.exec(head)[1]);
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.ok(body.length > 0 && body.length < cl - 1000 + 1, `${body.length} vs ${cl}`);
    await assert.rejects(post(srv.port, ALL, {}));
    const s = await openStream(srv.port);
    const ended = await s.ended;
    assert.notEqual(ended.complete, true);
    assert.equal(ended.leftover.length, 3);
  } finally {
    await reset();
  }
});

test('reset restores normal service, real time and the CLI keep-alive; flags kept', async () => {
  await setMode({ mode: 'down' });
  await control(srv.port, 'POST', '/_control/now', { now: 1 });
  await reset();
  const r = await post(srv.port, `${BULK}/time-flag`, {});
  assert.equal(r.status, 200);
  assert.equal(r.json.value, Date.now() / 1000 >= 1767225600 ? 'after' : 'before');
  const s = await control(srv.port, 'GET', '/_control/stats');
  assert.deepEqual(s.requests, { [`${BULK}/time-flag`]: 1 });
});

test('413 on request bodies over 1 MiB', async () => {
  const r = await request(srv.port, 'POST', BULK, { body: `{"context":{"x":"${'a'.repeat(1 << 20)}"}}` }).catch((e) => e);
  if (r instanceof Error) return; // the server may close before the client finished sending
  assert.equal(r.status, 413);
});
