// Proof 1: values end to end in all three modes, compared with what flagd-core (the test
// server's evaluator) gives for the same context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, startAgent, fixture, fixtureJson, evaluated, tempDir, waitFor, REPO, withoutClock,
} from './lib.mjs';

const ATTRS = { tier: 'paying', region: 'eu-west' };

// The agent's /v1/flags answers against flagd-core's OFREP bulk evaluation of the agent's own
// context (GET /v1/context). `expectKeys` = the flags the mode is expected to list.
async function compareWithOracle(agent, srv, expectKeys) {
  const body = await agent.waitFlags((b) => b.source === 'live', { what: 'a live sync' });
  assert.equal(body.stale, false);
  const { context } = await agent.json('/v1/context');
  assert.equal(context.targetingKey, 'host-0001.example.net');
  assert.equal(context.tier, 'paying');
  const oracle = await srv.ofrepEvaluate(context);
  assert.deepEqual(Object.keys(body.flags).sort(), [...expectKeys].sort());
  for (const key of expectKeys) {
    const got = body.flags[key];
    assert.deepEqual(evaluated(got), evaluated(oracle[key]), `flag ${key}`);
    assert.equal(got.source, 'live', `flag ${key} source`);
    assert.deepEqual(got.metadata, oracle[key].metadata, `flag ${key} metadata`);
    // The single-flag view agrees with the list.
    const one = await agent.get(`/v1/flags/${encodeURIComponent(key)}`);
    assert.equal(one.status, 200);
    assert.deepEqual(evaluated(one.json), evaluated(got), `GET /v1/flags/${key}`);
    assert.equal(one.headers['x-fleetflag-stale'], 'false');
  }
  const missing = await agent.get('/v1/flags/no-such-flag');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.errorCode, 'FLAG_NOT_FOUND');
  return { body, oracle };
}

const ALL = Object.keys(fixtureJson('flags.json').flags);
// flagd's evaluation v1 ResolveAll skips disabled flags (tests/server/README.md §2).
const RESOLVE_ALL = ALL.filter((k) => k !== 'disabled-flag');

test('ofrep mode: values equal flagd-core for the host context', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s', attributes: ATTRS });
  const { body } = await compareWithOracle(agent, srv, ALL);
  assert.equal(body.flags['bool-flag'].value, true);
  assert.equal(body.flags['disabled-flag'].reason, 'DISABLED');
  assert.equal(body.flags['disabled-flag'].value, undefined);
  // The agent sent exactly its context to the upstream.
  const stats = await srv.stats();
  assert.deepEqual(withoutClock(stats.last['/ofrep/v1/evaluate/flags'].body.context),
    withoutClock((await agent.json('/v1/context')).context));
});

test('flagd mode (Connect ResolveAll): values equal flagd-core for the host context', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'flagd', url: srv.url, interval: '1s', attributes: ATTRS });
  const { body } = await compareWithOracle(agent, srv, RESOLVE_ALL);
  // Integers come back as doubleValue over Connect; the agent must still serve 1000.
  assert.equal(body.flags['int-flag'].value, 1000);
  assert.deepEqual(body.flags['object-flag'].value, { level: 'info', sample: 1 });
  assert.equal((await srv.stats()).last['/flagd.evaluation.v1.Service/ResolveAll'].body.context.tier, 'paying');
});

test('definitions mode from a file: local evaluation equals flagd-core', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const dir = tempDir(t);
  const file = path.join(dir, 'flags.json');
  fs.writeFileSync(file, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'definitions', url: file, interval: '1s', attributes: ATTRS });
  await compareWithOracle(agent, srv, ALL);
  // Definitions mode evaluates any caller context locally on the OFREP endpoint: compare a
  // spread of contexts (fractional buckets, targeting on attributes) with flagd-core.
  for (let i = 0; i < 40; i++) {
    const context = {
      targetingKey: `${i % 3 ? 'host' : 'vm'}-${i}`,
      tier: i % 2 ? 'paying' : 'free',
      region: ['eu-west', 'us-east', 'eu-central'][i % 3],
    };
    const r = await agent.request('POST', '/ofrep/v1/evaluate/flags', { body: { context } });
    assert.equal(r.status, 200);
    const oracle = await srv.ofrepEvaluate(context);
    const got = Object.fromEntries(r.json.flags.map(({ key, ...rest }) => [key, rest]));
    assert.deepEqual(Object.keys(got).sort(), Object.keys(oracle).sort());
    for (const k of Object.keys(oracle)) {
      assert.deepEqual(evaluated(got[k]), evaluated(oracle[k]), `context ${JSON.stringify(context)} flag ${k}`);
    }
  }
});

test('definitions mode from the repo example file: equals flagd-core', async (t) => {
  const example = fs.readFileSync(path.join(REPO, 'examples', 'flags.json'), 'utf8');
  const srv = await startServer(t, example);
  const agent = await startAgent(t, {
    mode: 'definitions', url: path.join(REPO, 'examples', 'flags.json'), interval: '1s',
    attributes: { tier: 'paying', owner: 'sre', hostname: 'web-01', os_version: '12.5.0', region: 'eu-west' },
  });
  const keys = Object.keys(JSON.parse(example).flags);
  const { body } = await compareWithOracle(agent, srv, keys);
  assert.equal(body.flags['openssl-3-upgrade'].value, true); // owner sre: internal wave
});

test('definitions mode over HTTP (GET /flags.json): equals flagd-core, uses ETag', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, {
    mode: 'definitions', url: `${srv.url}/flags.json`, interval: '300ms', attributes: ATTRS,
  });
  await compareWithOracle(agent, srv, ALL);
  // Later polls revalidate with If-None-Match (304) instead of downloading again.
  const before = await srv.requestCount('/flags.json');
  await waitRequests(srv, '/flags.json', before + 2);
  const last = (await srv.stats()).last['/flags.json'];
  assert.match(last.headers['if-none-match'] || '', /^"?[0-9a-f]{64}"?$/);
});

async function waitRequests(srv, p, n) {
  await waitFor(async () => (await srv.requestCount(p)) >= n, { what: `${n} requests to ${p}` });
}
