// Start-up configuration of the real daemon: a bad configuration is refused (exit 2, message
// naming the problem) before anything is served; --config-check validates without serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FLEETFLAGD, tempDir } from './lib.mjs';

function daemon(t, args, yaml = '') {
  const dir = tempDir(t);
  const cfg = path.join(dir, 'agent.yaml');
  fs.writeFileSync(cfg, yaml);
  const r = spawnSync(FLEETFLAGD, ['-c', cfg, '--socket', path.join(dir, 'ff.sock'),
    '--state-dir', path.join(dir, 'state'), ...args], { encoding: 'utf8', timeout: 10000 });
  return { ...r, dir };
}

test('--config-check accepts a good configuration and serves nothing', async (t) => {
  const r = daemon(t, ['--config-check', '--mode', 'ofrep', '--url', 'http://127.0.0.1:9', '--interval', '5s']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /configuration ok/);
  const summary = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
  assert.equal(summary.mode, 'ofrep');
  assert.equal(summary.intervalMs, 5000);
  assert.equal(fs.existsSync(path.join(r.dir, 'ff.sock')), false);
});

const BAD = [
  { name: 'unknown mode', args: ['--mode', 'carrier-pigeon', '--url', 'x'], err: /mode/ },
  { name: 'no upstream and no bootstrap', args: ['--mode', 'ofrep'], err: /upstream\.url/ },
  { name: 'TCP listener off loopback', args: ['--mode', 'ofrep', '--url', 'http://127.0.0.1:9', '--tcp', '0.0.0.0:8016'], err: /loopback/ },
  { name: 'attribute without =', args: ['--mode', 'ofrep', '--url', 'http://127.0.0.1:9', '--attribute', 'tier'], err: /KEY=VALUE/ },
  { name: 'bad duration', args: ['--mode', 'ofrep', '--url', 'http://127.0.0.1:9', '--interval', 'soon'], err: /interval/ },
  { name: 'unknown YAML key', args: ['--mode', 'ofrep', '--url', 'http://127.0.0.1:9'], yaml: 'sync:\n  intervall: 5s\n', err: /sync\.intervall/ },
  { name: 'YAML interval below 100ms', args: ['--mode', 'ofrep', '--url', 'http://127.0.0.1:9'], yaml: 'sync:\n  interval: 10ms\n', err: /sync\.interval/ },
  { name: 'unsupported URL scheme', args: ['--mode', 'ofrep', '--url', 'gopher://127.0.0.1:9'], err: /./ },
];

for (const b of BAD) {
  test(`refused at start: ${b.name}`, (t) => {
    const r = daemon(t, b.args, b.yaml);
    assert.equal(r.status, 2, `exit ${r.status}; stderr ${r.stderr}`);
    assert.match(r.stderr, b.err);
    assert.equal(fs.existsSync(path.join(r.dir, 'ff.sock')), false);
  });
}

test('a -c file that does not exist is refused', (t) => {
  const dir = tempDir(t);
  const r = spawnSync(FLEETFLAGD, ['-c', path.join(dir, 'nope.yaml'), '--mode', 'ofrep', '--url', 'http://127.0.0.1:9'],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not found/);
});

// The command-line interval has the YAML's 100ms minimum: `--interval 0` used to poll the
// upstream about a thousand times a second.
for (const interval of ['0', '10ms', '99ms']) {
  test(`--interval ${interval} is refused like sync.interval`, (t) => {
    for (const extra of [['--config-check'], []]) {
      const r = daemon(t, [...extra, '--mode', 'ofrep', '--url', 'http://127.0.0.1:9', '--interval', interval]);
      assert.equal(r.status, 2, `${extra.join(' ')}: exit ${r.status}; stdout ${r.stdout}; stderr ${r.stderr}`);
      assert.match(r.stderr, /interval must be at least 100ms/);
      assert.equal(fs.existsSync(path.join(r.dir, 'ff.sock')), false);
    }
  });
}

test('--interval 100ms (the minimum) is accepted', (t) => {
  const r = daemon(t, ['--config-check', '--mode', 'ofrep', '--url', 'http://127.0.0.1:9', '--interval', '100ms']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1)).intervalMs, 100);
});
