// Proof 2-5: the upstream goes away, the agent restarts without it, a brand-new host has
// nothing, and the upstream answers badly. A failure never replaces good state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Agent, startServer, startAgent, fixture, evaluated, tempDir, request, sleep, FIXTURES,
} from './lib.mjs';

const ATTRS = { tier: 'paying', region: 'eu-west' };
// Fast retries so a failure and the recovery after it are seen within a second or two.
const FAST = ['sync:', '  backoff_base: 100ms', '  backoff_max: 500ms', '  jitter: 0.1'].join('\n');

const MODES = [
  { name: 'ofrep', mode: 'ofrep', url: (s) => s.url },
  { name: 'flagd', mode: 'flagd', url: (s) => s.url },
  { name: 'definitions over http', mode: 'definitions', url: (s) => `${s.url}/flags.json` },
];

function values(body) {
  return Object.fromEntries(Object.entries(body.flags).map(([k, v]) => [k, evaluated(v)]));
}

for (const m of MODES) {
  test(`${m.name}: upstream killed -> cached values, stale, X-Fleetflag-Stale, lastError`, async (t) => {
    const srv = await startServer(t, fixture('flags.json'));
    const agent = await startAgent(t, {
      mode: m.mode, url: m.url(srv), interval: '300ms', attributes: ATTRS, yaml: FAST,
    });
    const live = await agent.waitFlags((b) => b.source === 'live');
    await srv.kill9();

    const st = await agent.waitStatus((s) => s.lastError && s.source === 'cache', { what: 'a failed sync' });
    assert.equal(st.ready, true);
    assert.equal(st.stale, true);
    assert.ok(st.consecutiveFailures >= 1);
    assert.ok(st.lastSuccess, 'lastSuccess kept');
    assert.equal(typeof st.lastError, 'string');

    const r = await agent.get('/v1/flags');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-fleetflag-stale'], 'true');
    assert.ok(Number(r.headers.age) >= 0);
    assert.equal(r.json.stale, true);
    assert.equal(r.json.source, 'cache');
    assert.deepEqual(values(r.json), values(live));
    for (const [k, f] of Object.entries(r.json.flags)) assert.equal(f.source, 'cache', k);

    const one = await agent.get('/v1/flags/bool-flag');
    assert.equal(one.status, 200);
    assert.equal(one.json.value, true);
    assert.equal(one.json.source, 'cache');
    assert.equal(one.json.stale, true);
    assert.equal(one.headers['x-fleetflag-stale'], 'true');
    assert.equal((await agent.get('/readyz')).status, 200);

    // The upstream comes back: live again without a restart.
    await srv.start();
    await agent.waitStatus((s) => s.source === 'live' && s.lastError === null, { what: 'recovery' });
    const again = await agent.get('/v1/flags');
    assert.equal(again.headers['x-fleetflag-stale'], 'false');
    assert.deepEqual(values(again.json), values(live));
  });
}

for (const m of MODES) {
  test(`${m.name}: agent restarted while the upstream is down serves the SQLite cache at once`, async (t) => {
    const srv = await startServer(t, fixture('flags.json'));
    const opts = { mode: m.mode, url: m.url(srv), interval: '300ms', attributes: ATTRS, yaml: FAST };
    const first = await startAgent(t, opts);
    const live = await first.waitFlags((b) => b.source === 'live');
    await first.stop();
    await srv.kill9();

    const second = new Agent(t, { ...opts, dir: first.dir });
    await second.start();
    // The very first answers, before any sync attempt could have succeeded.
    const ready = await second.get('/readyz');
    assert.equal(ready.status, 200, ready.text);
    const r = await second.get('/v1/flags');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.source, 'cache');
    assert.equal(r.json.stale, true);
    assert.equal(r.headers['x-fleetflag-stale'], 'true');
    assert.deepEqual(values(r.json), values(live));
    const st = await second.status();
    assert.equal(st.cache.loadedAtStart, true);
    assert.equal(st.ready, true);
    await second.waitStatus((s) => s.lastError, { what: 'the failed first sync in status' });
    assert.equal((await second.get('/readyz')).status, 200);
  });
}

test('brand-new host, no cache, no upstream: not ready; with --bootstrap: ready', async (t) => {
  // The upstream's port, with nothing listening on it until the end of the test.
  const srv = await startServer(t, fixture('flags.json'));
  const url = srv.url;
  await srv.kill9();
  const agent = await startAgent(t, { mode: 'ofrep', url, interval: '300ms', yaml: FAST });
  const ready = await agent.get('/readyz');
  assert.equal(ready.status, 503);
  await agent.waitStatus((s) => s.lastError, { what: 'a failed sync' });
  assert.equal((await agent.get('/readyz')).status, 503);
  const st = await agent.status();
  assert.equal(st.ready, false);
  assert.equal(st.flagCount, 0);

  const all = await agent.get('/v1/flags');
  assert.equal(all.status, 503);
  assert.equal(all.json.errorCode, 'PROVIDER_NOT_READY');
  const one = await agent.get('/v1/flags/bool-flag');
  assert.equal(one.status, 503);
  assert.equal(one.json.errorCode, 'PROVIDER_NOT_READY');
  const ofrep = await agent.request('POST', '/ofrep/v1/evaluate/flags/bool-flag', { body: { context: {} } });
  assert.equal(ofrep.status, 503);
  assert.equal(ofrep.json.errorCode, 'PROVIDER_NOT_READY');
  await agent.stop();

  // Same situation with a bootstrap file: ready at once, with the bootstrap's answers.
  const boot = await startAgent(t, {
    mode: 'ofrep', url, interval: '300ms', yaml: FAST, attributes: ATTRS,
    bootstrap: path.join(FIXTURES, 'flags.json'),
  });
  assert.equal((await boot.get('/readyz')).status, 200);
  const b = await boot.get('/v1/flags');
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.flags['bool-flag'].value, true); // tier=paying
  assert.equal(b.json.flags['int-flag'].value, 1000);
  assert.equal(b.json.stale, true);
  assert.notEqual(b.json.source, 'live');
  await boot.waitStatus((s) => s.lastError, { what: 'a failed sync' });
  assert.equal((await boot.get('/readyz')).status, 200);
  assert.equal((await boot.get('/v1/flags/bool-flag')).json.value, true);

  // The upstream appears (with other definitions than the bootstrap's): live values replace
  // the bootstrap ones.
  const defs = JSON.parse(fixture('flags.json'));
  defs.flags['int-flag'].variants.large = 31337;
  fs.writeFileSync(srv.flagsFile, JSON.stringify(defs));
  await srv.start();
  const live = await boot.waitFlags((x) => x.source === 'live', { what: 'the first live sync' });
  assert.equal(live.flags['int-flag'].value, 31337);
  assert.equal(live.stale, false);
});

test('restart with the upstream up: live again after revalidating the cached ETag (304)', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const opts = { mode: 'ofrep', url: srv.url, interval: '60s', attributes: ATTRS };
  const first = await startAgent(t, opts);
  const live = await first.waitFlags((b) => b.source === 'live');
  await first.stop();
  const etag = (await request({ port: srv.port }, 'POST', '/ofrep/v1/evaluate/flags',
    { body: { context: (await srv.stats()).last['/ofrep/v1/evaluate/flags'].body.context } })).headers.etag;

  const second = new Agent(t, { ...opts, dir: first.dir });
  await second.start();
  const again = await second.waitFlags((b) => b.source === 'live');
  assert.deepEqual(values(again), values(live));
  // The cached ETag was sent: the upstream answered 304 and nothing was downloaded again.
  const last = (await srv.stats()).last['/ofrep/v1/evaluate/flags'];
  assert.equal(last.headers['if-none-match'], etag);
  for (const [k, f] of Object.entries(again.flags)) assert.equal(f.updatedAt, live.flags[k].updatedAt, k);
});

test('restart with another context: the cached answers are replaced by the new context\'s', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const first = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '60s', attributes: ATTRS });
  await first.waitFlags((b) => b.source === 'live' && b.flags['bool-flag'].value === true);
  await first.stop();
  const second = new Agent(t, {
    mode: 'ofrep', url: srv.url, interval: '60s', attributes: { tier: 'free' }, dir: first.dir,
  });
  await second.start();
  const body = await second.waitFlags((b) => b.source === 'live');
  assert.equal(body.flags['bool-flag'].value, false);
  assert.equal((await srv.stats()).last['/ofrep/v1/evaluate/flags'].body.context.tier, 'free');
});

test('brand-new definitions host with an unreadable file and no cache: not ready', async (t) => {
  const dir = tempDir(t);
  const agent = await startAgent(t, {
    mode: 'definitions', url: path.join(dir, 'missing.json'), interval: '300ms', yaml: FAST,
  });
  await agent.waitStatus((s) => s.lastError, { what: 'a failed read' });
  assert.equal((await agent.get('/readyz')).status, 503);
  assert.equal((await agent.get('/v1/flags')).status, 503);
  // The file appears: ready without a restart.
  fs.writeFileSync(path.join(dir, 'missing.json'), fixture('flags.json'));
  await agent.waitFlags((b) => b.source === 'live');
  assert.equal((await agent.get('/readyz')).status, 200);
});

// --- bad upstream answers ---------------------------------------------------------------------

const BAD = [
  { name: '500', mode: { mode: 'status', status: 500 }, error: /500/ },
  { name: 'garbage', mode: { mode: 'garbage' } },
  { name: 'wrong type', mode: { mode: 'wrongtype' } },
  { name: 'huge (chunked)', mode: { mode: 'huge', hugeBytes: 3 << 20 } },
  { name: 'huge (Content-Length)', mode: { mode: 'huge', hugeBytes: 3 << 20, contentLength: true } },
  { name: 'truncated', mode: { mode: 'truncate' } },
  { name: 'slow beyond the timeout', mode: { mode: 'slow', delayMs: 2500 } },
  { name: '401', auth: true, error: /401|auth/i },
  { name: '503', mode: { mode: 'status', status: 503 }, error: /503/ },
  { name: 'connection dropped', mode: { mode: 'down' } },
];

for (const m of MODES) {
  test(`${m.name}: bad upstream answers keep the last good values and show the error`, async (t) => {
    const srv = await startServer(t, fixture('flags.json'));
    const agent = await startAgent(t, {
      mode: m.mode, url: m.url(srv), interval: '200ms', attributes: ATTRS,
      // A small body limit so "huge" is refused quickly; a short timeout for "slow".
      yaml: `${FAST}\nupstream:\n  timeout: 1s\n  max_body_bytes: 1048576`,
    });
    const live = await agent.waitFlags((b) => b.source === 'live');
    const good = values(live);
    for (const bad of BAD) {
      await t.test(bad.name, async () => {
        await srv.reset();
        const before = await agent.status();
        assert.equal(before.lastError, null, `healthy before ${bad.name}`);
        if (bad.auth) await srv.control('POST', '/_control/auth', { token: 'sekret' });
        else await srv.setMode(bad.mode);

        const st = await agent.waitStatus((s) => s.lastError && s.consecutiveFailures >= 2,
          { what: `the ${bad.name} failure in /v1/status`, timeoutMs: 20000 });
        if (bad.error) assert.match(st.lastError, bad.error);
        assert.equal(st.ready, true);
        assert.equal(st.source, 'cache');
        const r = await agent.get('/v1/flags');
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-fleetflag-stale'], 'true');
        assert.deepEqual(values(r.json), good, `values after ${bad.name}`);
        assert.equal(agent.running, true, 'the agent survived');

        await srv.reset();
        await agent.waitStatus((s) => s.lastError === null && s.source === 'live',
          { what: `recovery after ${bad.name}`, timeoutMs: 20000 });
        assert.deepEqual(values(await agent.flags()), good);
      });
    }
  });
}

for (const m of MODES) {
  test(`${m.name}: 429 with Retry-After delays the next attempt`, async (t) => {
    const srv = await startServer(t, fixture('flags.json'));
    const agent = await startAgent(t, {
      mode: m.mode, url: m.url(srv), interval: '200ms', attributes: ATTRS, yaml: FAST,
      // No EventStream: its reconnects are not polls and must not muddy the count below.
      ...(m.mode === 'flagd' ? { yaml: `${FAST}\n  event_stream: false` } : {}),
    });
    const live = await agent.waitFlags((b) => b.source === 'live');
    // Retry-After is long so that the quiet window checked below ends well before it, even
    // when this machine is slow to look: the test does not wait for it to run out.
    await srv.setMode({ mode: 'status', status: 429, retryAfter: 15 });
    const st = await agent.waitStatus((s) => s.lastError, { what: 'the 429 in /v1/status' });
    assert.match(st.lastError, /429/);
    const wait = Date.parse(st.nextAttempt) - Date.parse(st.lastAttempt);
    assert.ok(wait >= 15000, `next attempt ${wait} ms after the 429, expected >= Retry-After 15 s`);
    // Without Retry-After the backoff (100-500 ms) would have retried several times in 2 s.
    const stats1 = await srv.stats();
    const n1 = Object.values(stats1.requests).reduce((a, b) => a + b, 0);
    await sleep(2000);
    const stats2 = await srv.stats();
    const n2 = Object.values(stats2.requests).reduce((a, b) => a + b, 0);
    assert.equal(n2, n1, 'no request to the upstream while Retry-After runs');
    const r = await agent.get('/v1/flags');
    assert.equal(r.json.source, 'cache');
    assert.deepEqual(values(r.json), values(live));
  });
}

test('definitions mode: time-based rules keep moving on cached definitions while the upstream is down', async (t) => {
  // The window opens 8 s from now: after the agent has gone live and seen the upstream die
  // (normally within a second or two; the margin is for a loaded machine), checked below.
  const at = Math.floor(Date.now() / 1000) + 8;
  const defs = JSON.parse(fixture('flags.json'));
  defs.flags['window-flag'] = {
    state: 'ENABLED',
    variants: { before: 'before', after: 'after' },
    defaultVariant: 'before',
    targeting: { if: [{ '>=': [{ var: '$flagd.timestamp' }, at] }, 'after', 'before'] },
  };
  const srv = await startServer(t, JSON.stringify(defs));
  const agent = await startAgent(t, {
    mode: 'definitions', url: `${srv.url}/flags.json`, interval: '300ms', attributes: ATTRS,
    yaml: `${FAST}\n  reevaluate: 300ms`,
  });
  const live = await agent.waitFlags((b) => b.source === 'live');
  assert.equal(live.flags['window-flag'].value, 'before');
  await srv.kill9();
  const down = await agent.waitFlags((b) => b.source === 'cache', { what: 'the failed sync' });
  assert.equal(down.flags['window-flag'].value, 'before');
  assert.ok(Date.now() / 1000 < at, 'precondition: the upstream was seen down before the window opened');
  const body = await agent.waitFlags((b) => b.flags['window-flag'].value === 'after',
    { what: 'the time window to open', timeoutMs: 20000 });
  assert.equal(body.source, 'cache');
  assert.ok(Date.now() / 1000 >= at, 'not before its time');
  assert.equal(body.flags['window-flag'].reason, 'TARGETING_MATCH');
  assert.equal((await agent.status()).lastError !== null, true);
});
