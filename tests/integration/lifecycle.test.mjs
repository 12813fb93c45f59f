// Proof 9 and 10: signals, socket ownership, and a corrupt cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  Agent, startServer, startAgent, fixture, fixtureJson, tempDir, sqlite3, waitFor, sleep, withoutClock,
} from './lib.mjs';

const ATTRS = { tier: 'paying' };

function withIntFlag(large) {
  const defs = fixtureJson('flags.json');
  defs.flags['int-flag'].variants.large = large;
  return JSON.stringify(defs);
}

test('SIGHUP re-syncs at once (60 s poll interval)', async (t) => {
  const srv = await startServer(t, withIntFlag(1000));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '60s', attributes: ATTRS });
  await agent.waitFlags((b) => b.source === 'live');
  await srv.setFlags(withIntFlag(2000));
  const polls = await srv.requestCount('/ofrep/v1/evaluate/flags');
  agent.signal('SIGHUP');
  const body = await agent.waitFlags((b) => b.flags['int-flag'].value === 2000,
    { what: 'the re-synced value (60 s poll interval)', timeoutMs: 20000 });
  assert.equal(body.source, 'live');
  assert.equal(await srv.requestCount('/ofrep/v1/evaluate/flags'), polls + 1);
  assert.equal(agent.running, true);
});

test('SIGHUP keeps the --attribute context given on the command line', async (t) => {
  const srv = await startServer(t, withIntFlag(1000));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '60s', attributes: ATTRS });
  await agent.waitFlags((b) => b.source === 'live');
  const before = withoutClock((await agent.json('/v1/context')).context);
  assert.equal(before.tier, 'paying');
  const polls = await srv.requestCount('/ofrep/v1/evaluate/flags');
  agent.signal('SIGHUP');
  // The reload sets the context, then wakes the sync loop: its fetch is the sign it is done.
  await waitFor(async () => await srv.requestCount('/ofrep/v1/evaluate/flags') > polls,
    { what: 'the re-sync after SIGHUP' });
  assert.deepEqual(withoutClock((await agent.json('/v1/context')).context), before);
  assert.equal((await agent.get('/v1/flags/bool-flag')).json.value, true, 'tier=paying still applies');
});

test('SIGHUP reloads context attributes from the config file; a broken file is refused', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const yaml = (region) => [
    'context:',
    '  targeting_key: host-0001.example.net',
    '  attributes:',
    `    region: ${region}`,
    '',
  ].join('\n');
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '60s', config: yaml('us-east') });
  let body = await agent.waitFlags((b) => b.source === 'live');
  assert.equal(body.flags['object-flag'].variant, 'minimal');
  const cfg = path.join(agent.dir, 'agent.yaml');

  fs.writeFileSync(cfg, yaml('eu-west'));
  agent.signal('SIGHUP');
  body = await agent.waitFlags((b) => b.flags['object-flag'].variant === 'full',
    { what: 'the re-evaluation for region eu-west (60 s poll interval)', timeoutMs: 20000 });
  assert.equal((await agent.json('/v1/context')).context.region, 'eu-west');
  assert.equal((await srv.stats()).last['/ofrep/v1/evaluate/flags'].body.context.region, 'eu-west');

  fs.writeFileSync(cfg, 'context: [this is: not valid\n');
  agent.signal('SIGHUP');
  await waitFor(() => /reload refused/.test(agent.log), { what: 'the refusal in the log' });
  assert.equal(agent.running, true);
  assert.equal((await agent.json('/v1/context')).context.region, 'eu-west');
  assert.equal((await agent.get('/v1/flags/object-flag')).json.variant, 'full');
});

test('SIGHUP re-syncs also when the agent runs without a config file',
  { skip: fs.existsSync('/etc/fleetflag/agent.yaml') && 'this host has /etc/fleetflag/agent.yaml' },
  async (t) => {
    // The targeting key is this machine's /etc/machine-id here: change a static flag.
    const defs = fixtureJson('flags.json');
    const srv = await startServer(t, JSON.stringify(defs));
    const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '60s', noConfig: true });
    await agent.waitFlags((b) => b.source === 'live');
    defs.flags['float-flag'].variants.low = 0.125;
    await srv.setFlags(defs);
    agent.signal('SIGHUP');
    await agent.waitFlags((b) => b.flags['float-flag'].value === 0.125,
      { what: 'the re-synced value (60 s poll interval)', timeoutMs: 20000 });
  });

test('SIGTERM drains in-flight requests, exits 0 and removes the socket', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s' });
  const body = await agent.waitFlags((b) => b.source === 'live');
  assert.equal(fs.statSync(agent.socket).mode & 0o777, 0o660, 'socket mode 0660');
  // A blocking query in flight is answered (not cut off) when the agent drains.
  const pending = agent.get(`/v1/flags?index=${body.revision + 100}&wait=30s`, { timeoutMs: 20000 });
  // In flight = accepted and read by the agent. The listen backlog is FIFO, so once a later
  // connection is answered the blocking one was accepted; the short pause covers the read of
  // bytes already in its socket (nothing observable marks it).
  await agent.get('/healthz');
  await sleep(200);
  const t0 = Date.now();
  agent.signal('SIGTERM');
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.json.flags['bool-flag'] !== undefined, true);
  const exit = await agent.waitExit(10000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - t0 < 8000, 'drained well before the 30 s wait');
  assert.equal(fs.existsSync(agent.socket), false, 'socket file removed');
  assert.match(agent.log, /SIGTERM/);
});

test('SIGINT stops the agent like SIGTERM', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s' });
  agent.signal('SIGINT');
  assert.deepEqual(await agent.waitExit(10000), { code: 0, signal: null });
  assert.equal(fs.existsSync(agent.socket), false);
});

// The sync thread blocked in an upstream call must not hold up a stop: the fetch is cancelled
// (Upstream::cancel from Agent::stop) instead of running into its timeout, here a minute.
const SLOW_MODES = [
  { name: 'ofrep', mode: 'ofrep', url: (s) => s.url, path: '/ofrep/v1/evaluate/flags' },
  { name: 'flagd', mode: 'flagd', url: (s) => s.url, path: '/flagd.evaluation.v1.Service/ResolveAll' },
  { name: 'definitions over http', mode: 'definitions', url: (s) => `${s.url}/flags.json`, path: '/flags.json' },
];
for (const m of SLOW_MODES) {
  test(`${m.name}: SIGTERM during a slow upstream fetch exits 0 at once`, async (t) => {
    const srv = await startServer(t, fixture('flags.json'));
    // Every request (EventStream included) is held for ten minutes.
    await srv.setMode({ mode: 'slow', delayMs: 600000 });
    const agent = await startAgent(t, {
      mode: m.mode, url: m.url(srv), interval: '1s', yaml: 'upstream:\n  timeout: 60s',
    });
    await waitFor(async () => await srv.requestCount(m.path) >= 1, { what: 'the fetch to be held' });
    const t0 = Date.now();
    agent.signal('SIGTERM');
    const exit = await agent.waitExit(20000);
    const ms = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, agent.diag());
    // The bound the shutdown promises (a watchdog tick to cancel, then the usual drain); the
    // fetch's own timeout is 60 s.
    assert.ok(ms < 2500, `exited ${ms} ms after SIGTERM\n${agent.diag()}`);
    t.diagnostic(`exited ${ms} ms after SIGTERM`);
    assert.equal(fs.existsSync(agent.socket), false, 'socket file removed');
  });
}

test('a second agent on the same socket refuses to start; a stale socket after kill -9 is replaced', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const first = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s' });
  await first.waitFlags((b) => b.source === 'live');

  // Same socket with its own state dir, and the very same configuration (a second instance
  // started by mistake).
  const other = new Agent(t, { mode: 'ofrep', url: srv.url, interval: '1s', dir: tempDir(t) });
  other.socket = first.socket;
  const twin = new Agent(t, { mode: 'ofrep', url: srv.url, interval: '1s', dir: first.dir });
  for (const second of [other, twin]) {
    await second.start({ wait: false });
    const exit = await second.waitExit(10000);
    assert.ok(exit && exit.code !== 0, `second agent exit: ${JSON.stringify(exit)}`);
    assert.match(second.log, /socket_in_use/);
    // The first one is untouched.
    assert.equal(first.running, true);
    assert.equal(fs.existsSync(first.socket), true);
    assert.equal((await first.get('/readyz')).status, 200);
    assert.equal((await first.get('/v1/flags')).json.source, 'live');
  }
  assert.equal(sqlite3(path.join(first.stateDir, 'cache.db'), 'PRAGMA integrity_check').stdout.trim(), 'ok');

  // kill -9 leaves the socket file behind; the next agent replaces it.
  await first.kill9();
  assert.equal(fs.existsSync(first.socket), true, 'kill -9 leaves the socket file');
  await assert.rejects(first.get('/healthz'), /ECONNREFUSED/);
  const third = new Agent(t, { mode: 'ofrep', url: srv.url, interval: '1s', dir: first.dir });
  await third.start();
  assert.equal((await third.get('/readyz')).status, 200);
  assert.equal((await third.get('/v1/flags/bool-flag')).status, 200);
});

test('a corrupt cache.db is moved aside, the agent starts, serves and says so', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const opts = { mode: 'ofrep', url: srv.url, interval: '1s', attributes: ATTRS };
  const first = await startAgent(t, opts);
  const live = await first.waitFlags((b) => b.source === 'live');
  await first.stop();
  const db = path.join(first.stateDir, 'cache.db');
  assert.equal(sqlite3(db, 'PRAGMA integrity_check').stdout.trim(), 'ok');

  // Garbage over the whole file (header included), as a broken disk would leave it.
  fs.writeFileSync(db, crypto.randomBytes(64 * 1024));
  for (const side of ['-wal', '-shm']) fs.rmSync(db + side, { force: true });

  const second = new Agent(t, { ...opts, dir: first.dir });
  await second.start();
  const st = await second.status();
  const rec = st.cache.recoveredFromCorruption;
  assert.ok(rec, `/v1/status reports the recovery: ${JSON.stringify(st.cache)}`);
  assert.equal(typeof rec.movedTo, 'string');
  assert.ok(fs.existsSync(rec.movedTo), `moved-aside file ${rec.movedTo} exists`);
  assert.equal(fs.readFileSync(rec.movedTo).length, 64 * 1024, 'the corrupt bytes are kept for analysis');
  assert.equal(st.cache.persistent, true);
  assert.match(second.log, /corrupt/i);

  const body = await second.waitFlags((b) => b.source === 'live');
  assert.equal(body.flags['bool-flag'].value, live.flags['bool-flag'].value);
  // The rebuilt cache is sound and in use: a restart with the upstream down serves from it.
  await second.stop();
  assert.equal(sqlite3(db, 'PRAGMA integrity_check').stdout.trim(), 'ok');
  await srv.kill9();
  const third = new Agent(t, { ...opts, dir: first.dir });
  await third.start();
  const r = await third.get('/v1/flags');
  assert.equal(r.status, 200);
  assert.equal(r.json.source, 'cache');
  assert.equal((await third.status()).cache.recoveredFromCorruption, undefined);
});

test('a truncated cache.db (valid header, missing pages) is handled the same way', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const opts = { mode: 'definitions', url: `${srv.url}/flags.json`, interval: '1s', attributes: ATTRS };
  const first = await startAgent(t, opts);
  await first.waitFlags((b) => b.source === 'live');
  await first.stop();
  const db = path.join(first.stateDir, 'cache.db');
  const bytes = fs.readFileSync(db);
  assert.ok(bytes.length > 4096, `cache.db is ${bytes.length} bytes`);
  // Keep the header page, scribble over the rest.
  fs.writeFileSync(db, Buffer.concat([bytes.subarray(0, 100), crypto.randomBytes(bytes.length - 100)]));
  for (const side of ['-wal', '-shm']) fs.rmSync(db + side, { force: true });

  const second = new Agent(t, { ...opts, dir: first.dir });
  await second.start();
  const st = await second.status();
  assert.ok(st.cache.recoveredFromCorruption || st.cache.error,
    `/v1/status says something about the cache: ${JSON.stringify(st.cache)}`);
  await second.waitFlags((b) => b.source === 'live');
  assert.equal(second.running, true);
});
