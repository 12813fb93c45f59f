// Proof 6: kill -9 of fleetflagd during syncs, 100 times, while the flags keep changing on the
// upstream. Afterwards the SQLite cache passes PRAGMA integrity_check and a restarted agent
// serves from it (upstream down) and then catches up (upstream back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Agent, startServer, fixtureJson, tempDir, sqlite3, sleep } from './lib.mjs';

const KILLS = 100;

// The fixture with a version that shows in metadata and in int-flag's value, so every change
// on the upstream changes the evaluations the agent must write.
function defsVersion(n) {
  const defs = fixtureJson('flags.json');
  defs.metadata.version = String(n);
  defs.flags['int-flag'].variants.large = 1000 + n;
  defs.flags['string-flag'].variants.next = `1.26.${n}`;
  return JSON.stringify(defs);
}

// The timeout is a hang guard: about 20 s normally, up to 100 s seen under ASan on two loaded cores.
test(`${KILLS} x kill -9 during syncs leave a sound cache`, { timeout: 480000 }, async (t) => {
  const srv = await startServer(t, defsVersion(0));
  let version = 0;
  let changing = true;
  const changer = (async () => {
    while (changing) {
      version += 1;
      await srv.setFlags(defsVersion(version));
      await sleep(25);
    }
  })();

  // Two hosts: one caching evaluations (ofrep), one caching definitions (HTTP definitions).
  const hosts = [
    { mode: 'ofrep', url: srv.url, dir: tempDir(t) },
    { mode: 'definitions', url: `${srv.url}/flags.json`, dir: tempDir(t) },
  ];
  const started = Date.now();
  let kills = 0;
  try {
    for (let i = 0; i < KILLS; i++) {
      const h = hosts[i % hosts.length];
      const agent = new Agent(t, {
        mode: h.mode, url: h.url, dir: h.dir, interval: '100ms', attributes: { tier: 'paying' },
        yaml: 'sync:\n  jitter: 0\n  backoff_base: 100ms\n  backoff_max: 200ms',
        logLevel: 'warn',
      });
      // Also proves that the stale socket left by the previous kill -9 is replaced.
      await agent.start();
      await sleep(Math.floor(Math.random() * 250));
      assert.equal(agent.running, true, `iteration ${i}: the agent died on its own\n${agent.diag()}`);
      await agent.kill9();
      kills += 1;
    }
  } finally {
    changing = false;
    await changer;
  }
  const elapsed = Date.now() - started;
  t.diagnostic(`${kills} kills in ${elapsed} ms; upstream at version ${version}`);
  assert.equal(kills, KILLS);

  for (const h of hosts) {
    const db = path.join(h.dir, 'state', 'cache.db');
    const r = sqlite3(db, 'PRAGMA integrity_check');
    assert.equal(r.status, 0, `sqlite3 ${db}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'ok', `${h.mode} cache integrity`);
  }

  // Upstream down: every host serves its cache at once.
  await srv.kill9();
  for (const h of hosts) {
    const agent = new Agent(t, { mode: h.mode, url: h.url, dir: h.dir, interval: '100ms', attributes: { tier: 'paying' } });
    await agent.start();
    const r = await agent.get('/v1/flags');
    assert.equal(r.status, 200, `${h.mode}: ${r.text}\n${agent.diag()}`);
    assert.equal(r.json.source, 'cache');
    const st = await agent.status();
    assert.equal(st.cache.loadedAtStart, true);
    assert.equal(st.cache.recoveredFromCorruption, undefined, 'no corruption to recover from');
    const large = r.json.flags['int-flag'].value;
    assert.ok(Number.isInteger(large) && large >= 1000 && large <= 1000 + version, `int-flag ${large}`);
    assert.equal(r.json.flags['string-flag'].value === '1.24.0' ||
      r.json.flags['string-flag'].value === `1.26.${large - 1000}`, true,
    'string-flag comes from the same definitions version as int-flag');
    await agent.stop();
  }

  // Upstream back: the hosts catch up with the last version.
  await srv.start();
  for (const h of hosts) {
    const agent = new Agent(t, { mode: h.mode, url: h.url, dir: h.dir, interval: '100ms', attributes: { tier: 'paying' } });
    await agent.start();
    const body = await agent.waitFlags((b) => b.source === 'live' && b.flags['int-flag'].value === 1000 + version,
      { what: `${h.mode}: live version ${version}` });
    assert.equal(body.stale, false);
    await agent.stop();
    const r = sqlite3(path.join(h.dir, 'state', 'cache.db'), 'PRAGMA integrity_check');
    assert.equal(r.stdout.trim(), 'ok');
  }
});
