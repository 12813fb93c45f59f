// Proof 11: the fleetflag CLI over the agent's socket: get / list / status / enabled / context
// exit codes and output, and watch printing a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import readline from 'node:readline';
import { startServer, startAgent, fixture, fixtureJson, cli, cliSpawn, tempDir } from './lib.mjs';

const ATTRS = { tier: 'paying', region: 'eu-west' };

// One agent for the read-only commands.
async function liveAgent(t) {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s', attributes: ATTRS });
  await agent.waitFlags((b) => b.source === 'live');
  return { srv, agent };
}

test('get: value on stdout and exit 0; unknown flag exit 2; --default; --json', async (t) => {
  const { agent } = await liveAgent(t);
  const s = ['--socket', agent.socket];
  let r = await cli(['get', 'bool-flag', ...s]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'true\n');
  r = await cli(['get', 'int-flag', ...s]);
  assert.equal(r.stdout, '1000\n');
  r = await cli(['get', 'float-flag', ...s]);
  assert.equal(r.stdout, '0.25\n');
  r = await cli(['get', 'string-flag', ...s]);
  assert.match(r.stdout, /^1\.2[46]\.[02]\n$/, 'strings are printed raw, without quotes');
  r = await cli(['get', 'object-flag', ...s]);
  assert.deepEqual(JSON.parse(r.stdout), { level: 'info', sample: 1 });

  r = await cli(['get', 'no-such-flag', ...s]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /FLAG_NOT_FOUND/);
  r = await cli(['get', 'no-such-flag', '--default', 'fallback', ...s]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'fallback\n');
  // A disabled flag has no value: like unknown, unless a default is given.
  r = await cli(['get', 'disabled-flag', ...s]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /DISABLED/);

  r = await cli(['get', 'bool-flag', '--json', ...s]);
  assert.equal(r.code, 0);
  const j = JSON.parse(r.stdout);
  assert.equal(j.key, 'bool-flag');
  assert.equal(j.value, true);
  assert.equal(j.variant, 'on');
  assert.equal(j.source, 'live');
});

test('enabled: 0 for true, 1 for false or not a boolean, 2 for unknown', async (t) => {
  const { agent } = await liveAgent(t);
  const s = ['--socket', agent.socket];
  assert.equal((await cli(['enabled', 'bool-flag', ...s])).code, 0);
  assert.equal((await cli(['enabled', 'static-flag', ...s])).code, 0);
  assert.equal((await cli(['enabled', 'string-flag', ...s])).code, 1, 'a string is not "enabled"');
  const unknown = await cli(['enabled', 'no-such-flag', ...s]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /FLAG_NOT_FOUND/);
});

test('enabled: a false flag exits 1', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  // tier=free: bool-flag's targeting gives "off" (false).
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s', attributes: { tier: 'free' } });
  await agent.waitFlags((b) => b.source === 'live');
  const r = await cli(['enabled', 'bool-flag', '--socket', agent.socket]);
  assert.equal(r.code, 1);
  assert.equal((await cli(['get', 'bool-flag', '--socket', agent.socket])).stdout, 'false\n');
});

test('list: a table of every flag, and --json equal to GET /v1/flags', async (t) => {
  const { agent } = await liveAgent(t);
  const s = ['--socket', agent.socket];
  let r = await cli(['list', ...s]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^FLAG\s+VALUE\s+VARIANT\s+REASON\s+SOURCE$/);
  const rows = Object.fromEntries(lines.slice(1, -1).map((l) => {
    const cols = l.trim().split(/\s+/);
    return [cols[0], cols];
  }));
  const keys = Object.keys(fixtureJson('flags.json').flags).sort();
  assert.deepEqual(Object.keys(rows).sort(), keys);
  assert.deepEqual(rows['bool-flag'], ['bool-flag', 'true', 'on', 'TARGETING_MATCH', 'live']);
  assert.deepEqual(rows['int-flag'], ['int-flag', '1000', 'large', 'TARGETING_MATCH', 'live']);
  assert.deepEqual(rows['disabled-flag'], ['disabled-flag', '-', '-', 'DISABLED', 'live']);
  assert.match(lines.at(-1), /^revision \d+, source live$/);

  r = await cli(['list', '--json', ...s]);
  assert.equal(r.code, 0);
  const fromCli = JSON.parse(r.stdout);
  const direct = await agent.flags();
  assert.deepEqual(Object.keys(fromCli.flags).sort(), keys);
  assert.equal(fromCli.revision, direct.revision);
  assert.deepEqual(fromCli.flags['object-flag'].value, direct.flags['object-flag'].value);
});

test('status and context: ready exits 0 with the upstream shown; a not-ready agent exits 1', async (t) => {
  const { srv, agent } = await liveAgent(t);
  let r = await cli(['status', '--socket', agent.socket]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ready:\s+yes$/m);
  assert.match(r.stdout, /^mode:\s+ofrep$/m);
  assert.match(r.stdout, new RegExp(`^upstream:.*127\\.0\\.0\\.1:${srv.port}`, 'm'));
  assert.match(r.stdout, /^source:\s+live$/m);
  assert.match(r.stdout, /^flags:\s+7$/m);
  r = await cli(['status', '--json', '--socket', agent.socket]);
  assert.equal(r.code, 0);
  assert.equal(JSON.parse(r.stdout).mode, 'ofrep');
  r = await cli(['context', '--json', '--socket', agent.socket]);
  assert.equal(r.code, 0);
  assert.equal(JSON.parse(r.stdout).context.tier, 'paying');

  // The upstream goes away: still ready (cache), the error is shown.
  await srv.kill9();
  await agent.waitStatus((s) => s.lastError, { what: 'a failed sync' });
  r = await cli(['status', '--socket', agent.socket]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^source:\s+cache \(stale\)$/m);
  assert.match(r.stdout, /^last error:\s+\S/m);
  r = await cli(['get', 'bool-flag', '--socket', agent.socket]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'true\n');
  assert.match(r.stderr, /cache/, 'get notes that the value is from the cache');

  // A brand-new host that never synced.
  const fresh = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '1s' });
  r = await cli(['status', '--socket', fresh.socket]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^ready:\s+no$/m);
  r = await cli(['get', 'bool-flag', '--socket', fresh.socket]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /PROVIDER_NOT_READY/);
  r = await cli(['get', 'bool-flag', '--default', 'off', '--socket', fresh.socket]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'off\n');
  assert.equal((await cli(['enabled', 'bool-flag', '--socket', fresh.socket])).code, 2);
});

test('no agent on the socket: exit 2 with a message, --default still works', async (t) => {
  const sock = path.join(tempDir(t), 'none.sock');
  for (const args of [['get', 'x'], ['list'], ['status'], ['enabled', 'x'], ['context']]) {
    const r = await cli([...args, '--socket', sock]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.code}`);
    assert.notEqual(r.stderr, '', `${args.join(' ')} says why`);
  }
  const r = await cli(['get', 'x', '--default', 'd', '--socket', sock]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'd\n');
});

test('watch prints a change made on the upstream', async (t) => {
  const defs = fixtureJson('flags.json');
  const srv = await startServer(t, JSON.stringify(defs));
  const agent = await startAgent(t, { mode: 'ofrep', url: srv.url, interval: '300ms', attributes: ATTRS });
  await agent.waitFlags((b) => b.source === 'live');

  const child = cliSpawn(t, ['watch', 'int-flag', '--count', '1', '--socket', agent.socket]);
  const lines = [];
  const rl = readline.createInterface({ input: child.stdout });
  const nextLine = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watch printed nothing more; so far: ${lines.join('|')}`)), 15000);
    rl.once('line', (l) => { clearTimeout(timer); lines.push(l); resolve(l); });
  });
  const first = await nextLine();
  assert.match(first, /^rev \d+ int-flag = 1000 \[live\]$/);

  defs.flags['int-flag'].variants.large = 4242;
  await srv.setFlags(defs);
  const change = await nextLine();
  assert.match(change, /^rev \d+ int-flag = 4242 \(was 1000\) \[live\]$/);
  const exit = await new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  assert.equal(exit, 0, '--count 1 exits after one change');
});
