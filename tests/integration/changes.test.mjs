// Proof 7: a flag change on the upstream reaches a blocking query (GET /v1/flags?index=N&wait=)
// within one poll interval; in flagd mode the EventStream brings it much faster than the poll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, startAgent, fixture, fixtureJson, tempDir, waitFor } from './lib.mjs';

const ATTRS = { tier: 'paying' };

function withIntFlag(large) {
  const defs = fixtureJson('flags.json');
  defs.flags['int-flag'].variants.large = large;
  return JSON.stringify(defs);
}

// Starts a blocking query at `index` and resolves with {r, ms} when it answers.
function blocking(agent, index, wait = '30s') {
  const t0 = Date.now();
  return agent.get(`/v1/flags?index=${index}&wait=${wait}`, { timeoutMs: 60000 })
    .then((r) => ({ r, ms: Date.now() - t0 }));
}

function rssKb(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// Lets the blocking query reach the server before the change is made.
const settle = () => new Promise((r) => setTimeout(r, 200));

const POLLED = [
  { name: 'ofrep', mode: 'ofrep', url: (s) => s.url },
  { name: 'flagd (no EventStream)', mode: 'flagd', url: (s) => s.url, yaml: 'sync:\n  event_stream: false' },
  { name: 'definitions over http', mode: 'definitions', url: (s) => `${s.url}/flags.json` },
];

for (const m of POLLED) {
  test(`${m.name}: a change reaches a blocking query within one poll interval`, async (t) => {
    const srv = await startServer(t, withIntFlag(1000));
    const agent = await startAgent(t, {
      mode: m.mode, url: m.url(srv), interval: '1s', attributes: ATTRS,
      yaml: `${m.yaml || 'sync:'}\n  jitter: 0.1`,
    });
    const first = await agent.waitFlags((b) => b.source === 'live');
    assert.equal(first.flags['int-flag'].value, 1000);
    const n = first.revision;

    // Nothing changes: the query answers at its timeout with the same revision.
    const idle = await blocking(agent, n, '1s');
    assert.equal(idle.r.status, 200);
    assert.equal(idle.r.json.revision, n);
    assert.ok(idle.ms >= 900, `answered after ${idle.ms} ms, before wait=1s`);

    const pending = blocking(agent, n);
    await settle();
    const changed = Date.now();
    await srv.setFlags(withIntFlag(2000));
    const { r } = await pending;
    const ms = Date.now() - changed;
    assert.equal(r.status, 200);
    assert.ok(r.json.revision > n, `revision ${r.json.revision} > ${n}`);
    assert.equal(r.json.flags['int-flag'].value, 2000);
    assert.equal(r.headers['x-fleetflag-index'], String(r.json.revision));
    // One interval (1 s + 10% jitter) plus up to a second for the fetch on a busy machine.
    assert.ok(ms < 1100 + 1000, `change seen after ${ms} ms, poll interval 1 s`);
    t.diagnostic(`change seen after ${ms} ms`);

    // An index below the current revision answers at once (not after its 30 s wait).
    const now = await blocking(agent, n);
    assert.ok(now.ms < 10000, `stale index answered after ${now.ms} ms`);
    assert.equal(now.r.json.revision, r.json.revision);
  });
}

test('definitions from a file: an edit reaches a blocking query within one poll interval', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'flags.json');
  fs.writeFileSync(file, withIntFlag(1000));
  const agent = await startAgent(t, { mode: 'definitions', url: file, interval: '1s', attributes: ATTRS });
  const first = await agent.waitFlags((b) => b.source === 'live');
  const pending = blocking(agent, first.revision);
  await settle();
  // Atomic replace, as config management tools do.
  const changed = Date.now();
  fs.writeFileSync(`${file}.tmp`, withIntFlag(3000));
  fs.renameSync(`${file}.tmp`, file);
  const { r } = await pending;
  const ms = Date.now() - changed;
  assert.equal(r.json.flags['int-flag'].value, 3000);
  assert.ok(ms < 1200 + 1000, `change seen after ${ms} ms, poll interval 1 s`);
});

test('flagd mode: the EventStream brings a change long before the 60 s poll', async (t) => {
  const srv = await startServer(t, withIntFlag(1000));
  const agent = await startAgent(t, {
    mode: 'flagd', url: srv.url, interval: '60s', attributes: ATTRS,
  });
  const first = await agent.waitFlags((b) => b.source === 'live');
  await waitFor(async () => (await srv.stats()).streams >= 1, { what: 'an open EventStream' });
  const polls = await srv.requestCount('/flagd.evaluation.v1.Service/ResolveAll');

  for (const [i, value] of [4000, 5000, 6000].entries()) {
    const before = await agent.flags();
    const pending = blocking(agent, before.revision);
    await settle();
    await srv.setFlags(withIntFlag(value));
    const { r, ms } = await pending;
    assert.equal(r.json.flags['int-flag'].value, value);
    assert.equal(r.json.source, 'live');
    assert.ok(ms < 5000, `change ${i + 1} seen after ${ms} ms with a 60 s poll interval`);
    t.diagnostic(`change ${i + 1} seen after ${ms} ms`);
  }
  // Each change cost one ResolveAll (the stream-triggered refresh), not a poll storm.
  const after = await srv.requestCount('/flagd.evaluation.v1.Service/ResolveAll');
  assert.ok(after - polls >= 3 && after - polls <= 6, `${after - polls} ResolveAll calls for 3 changes`);
  assert.ok(first.revision >= 1);
});

test('flagd mode: a dropped EventStream is reopened and still delivers changes', async (t) => {
  const srv = await startServer(t, withIntFlag(1000));
  const agent = await startAgent(t, {
    mode: 'flagd', url: srv.url, interval: '60s', attributes: ATTRS,
    yaml: 'sync:\n  backoff_base: 200ms\n  backoff_max: 1s',
  });
  await agent.waitFlags((b) => b.source === 'live');
  await waitFor(async () => (await srv.stats()).streams >= 1, { what: 'an open EventStream' });
  const opened = (await srv.stats()).streamsOpened;
  await srv.control('POST', '/_control/stop-streams', { abrupt: true });
  await waitFor(async () => {
    const s = await srv.stats();
    return s.streams >= 1 && s.streamsOpened > opened;
  }, { what: 'the EventStream reopened' });
  const before = await agent.flags();
  const pending = blocking(agent, before.revision);
  await settle();
  await srv.setFlags(withIntFlag(7000));
  const { r, ms } = await pending;
  assert.equal(r.json.flags['int-flag'].value, 7000);
  assert.ok(ms < 5000, `change seen after ${ms} ms`);
});

test('flagd mode: bad EventStream answers are survived, polling values stay, the stream comes back', async (t) => {
  const srv = await startServer(t, withIntFlag(1000));
  const agent = await startAgent(t, {
    mode: 'flagd', url: srv.url, interval: '60s', attributes: ATTRS,
    yaml: 'sync:\n  backoff_base: 200ms\n  backoff_max: 1s',
  });
  await agent.waitFlags((b) => b.source === 'live');
  const rss0 = rssKb(agent.pid);
  const route = '/flagd.evaluation.v1.Service/EventStream';
  const modes = [
    { mode: 'garbage' }, { mode: 'wrongtype' }, { mode: 'truncate' },
    // A 64 MiB envelope length: refused by the message limit, not allocated.
    { mode: 'huge', hugeBytes: 64 << 20 }, { mode: 'status', status: 500 }, { mode: 'down' },
  ];
  for (const m of modes) {
    await srv.setMode({ ...m, routes: [route] });
    await srv.control('POST', '/_control/stop-streams', {});
    await waitFor(async () => (await srv.requestCount(route)) >= 2, { what: `two stream attempts in mode ${m.mode}` });
    assert.equal(agent.running, true, `after EventStream mode ${m.mode}`);
    const st = await agent.status();
    assert.equal(st.source, 'live', `polled values stay live (mode ${m.mode})`);
    assert.equal(st.lastError, null);
    await srv.reset();
    await waitFor(async () => (await srv.stats()).streams >= 1, { what: `the stream back after ${m.mode}` });
  }
  const grown = rssKb(agent.pid) - rss0;
  assert.ok(grown < 40 * 1024, `resident memory grew by ${grown} kB with a 64 MiB envelope`);
  const before = await agent.flags();
  const pending = blocking(agent, before.revision);
  await settle();
  await srv.setFlags(withIntFlag(8000));
  const { r, ms } = await pending;
  assert.equal(r.json.flags['int-flag'].value, 8000);
  assert.ok(ms < 5000, `change seen after ${ms} ms`);
});

test('no-op syncs publish nothing: revision and updatedAt stay, blocking queries keep waiting', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '200ms' });
  const first = await agent.waitFlags((b) => b.source === 'live');
  const polls = await srv.requestCount('/ofrep/v1/evaluate/flags');
  const { r, ms } = await blocking(agent, first.revision, '1500ms');
  assert.ok(await srv.requestCount('/ofrep/v1/evaluate/flags') >= polls + 3, 'several polls happened');
  assert.ok(ms >= 1400, `a no-op poll woke the blocking query after ${ms} ms`);
  assert.equal(r.json.revision, first.revision);
  for (const [k, f] of Object.entries(r.json.flags)) assert.equal(f.updatedAt, first.flags[k].updatedAt, k);
  assert.notEqual(r.json.syncedAt, first.syncedAt, 'syncedAt moves with every successful poll');

  // Only the changed flag gets a new updatedAt.
  const defs = fixtureJson('flags.json');
  defs.flags['float-flag'].variants.low = 0.5;
  await srv.setFlags(defs);
  const changed = await agent.waitFlags((b) => b.flags['float-flag'].value === 0.5);
  assert.equal(changed.revision, first.revision + 1);
  assert.notEqual(changed.flags['float-flag'].updatedAt, first.flags['float-flag'].updatedAt);
  assert.equal(changed.flags['bool-flag'].updatedAt, first.flags['bool-flag'].updatedAt);
});

test('blocking query on a host that is not ready yet returns once the first sync lands', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  await srv.setMode({ mode: 'status', status: 503 });
  const agent = await startAgent(t, {
    mode: 'ofrep', url: srv.url, interval: '200ms', yaml: 'sync:\n  backoff_base: 100ms\n  backoff_max: 300ms',
  });
  assert.equal((await agent.get('/readyz')).status, 503);
  const pending = blocking(agent, 0, '20s');
  await settle();
  await srv.reset();
  const { r } = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.json.source, 'live');
  assert.equal(r.json.flags['static-flag'].value, true);
});

test('/v1/status says the EventStream is connected in flagd mode', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'flagd', url: srv.url, interval: '60s' });
  await agent.waitFlags((b) => b.source === 'live');
  await waitFor(async () => (await srv.stats()).streams >= 1, { what: 'an open EventStream' });
  await agent.waitStatus((s) => s.streamConnected === true, { what: 'streamConnected' });
  await srv.control('POST', '/_control/stop-streams', { abrupt: true });
  await srv.stop();
  await agent.waitStatus((s) => s.streamConnected === false, { what: 'streamConnected false' });
});

test('blocking queries: bad parameters are 400', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s' });
  await agent.waitFlags();
  assert.equal((await agent.get('/v1/flags?index=abc&wait=1s')).status, 400);
  assert.equal((await agent.get('/v1/flags?index=1&wait=forever')).status, 400);
});
