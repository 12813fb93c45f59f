// The C++ harness (tests/support/flagd_test_server.h), driven through testserver_harness_cli
// (FF_HARNESS_CLI, set by CTest). Skipped when the binary is not given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { FLAGS, tmpFile, openStream, post } from './helpers.mjs';

const CLI = process.env.FF_HARNESS_CLI;
const skip = CLI ? false : 'FF_HARNESS_CLI not set (run through CTest: testserver_selftest)';

class Harness {
  constructor() {
    this.proc = spawn(CLI, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout });
    this.pending = [];
    this.lines.on('line', (l) => this.pending.shift()(JSON.parse(l)));
    this.exited = new Promise((r) => this.proc.on('exit', r));
  }

  cmd(line) {
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.proc.stdin.write(`${line}\n`);
    });
  }

  async ok(line) {
    const r = await this.cmd(line);
    assert.equal(r.ok, true, `${line}: ${JSON.stringify(r.error)}`);
    return r.result;
  }

  async quit() {
    this.proc.stdin.end('quit\n');
    await this.exited;
  }
}

const flagsFile = () => tmpFile('flags.json', JSON.stringify(FLAGS));
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function eventually(pred, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test('start, url, simple_http, control calls, stats', { skip }, async () => {
  const h = new Harness();
  try {
    const { port } = await h.ok(`start ${flagsFile()}`);
    assert.ok(port > 0);
    const st = await h.ok('state');
    assert.equal(st.running, true);
    assert.equal(st.url, `http://127.0.0.1:${port}`);

    let r = await h.ok('http POST /ofrep/v1/evaluate/flags/bool-flag {"context":{}}');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).value, true);
    assert.equal(r.headers['Content-Type'], 'application/json');

    const changed = await h.ok(`set_flags ${tmpFile('f.json', JSON.stringify({ flags: { n: { state: 'ENABLED', variants: { a: 'x' }, defaultVariant: 'a' } } }))}`);
    assert.equal(changed.changed.n, 'write');
    assert.equal(changed.changed['bool-flag'], 'delete');
    const rejected = await h.cmd(`set_flags ${tmpFile('bad.json', '{"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"zz"}}}')}`);
    assert.equal(rejected.ok, false);
    assert.equal(rejected.error.code, 'control');
    assert.match(rejected.error.message, /400/);

    await h.ok('set_flags_raw ' + tmpFile('raw.txt', 'garbage!'));
    r = await h.ok('http GET /flags.json');
    assert.equal(r.body, 'garbage!');

    await h.ok('set_mode {"mode":"status","status":503,"retryAfter":2}');
    r = await h.ok('http POST /flagd.evaluation.v1.Service/ResolveAll {}');
    assert.equal(r.status, 503);
    assert.equal(r.headers['Retry-After'], '2');
    await h.ok('reset');

    // simple_http de-chunks
    await h.ok('set_mode {"mode":"huge","hugeBytes":200000}');
    r = await h.ok('http POST /flagd.evaluation.v1.Service/ResolveAll {}');
    assert.equal(r.headers['Transfer-Encoding'], 'chunked');
    assert.ok(Object.keys(JSON.parse(r.body).flags).length > 100);
    await h.ok('reset');

    await h.ok('set_now 1767225600');
    await h.ok('keepalive 5000');
    await h.ok('auth tok');
    assert.equal((await h.ok('http POST /ofrep/v1/evaluate/flags {}')).status, 401);
    await h.ok('clear_auth');
    await h.ok('clear_now');

    await h.ok('reset');
    await h.ok('http POST /ofrep/v1/evaluate/flags {}');
    await h.ok('http POST /ofrep/v1/evaluate/flags {}');
    assert.equal(await h.ok('count /ofrep/v1/evaluate/flags'), 2);
    assert.equal(await h.ok('wait /ofrep/v1/evaluate/flags 2'), 2);
    const stats = await h.ok('stats');
    assert.equal(stats.requests['/ofrep/v1/evaluate/flags'], 2);
  } finally {
    await h.quit();
  }
});

test('stop_streams and stop end EventStreams; restart keeps port and flags', { skip }, async () => {
  const h = new Harness();
  try {
    const { port } = await h.ok(`start ${flagsFile()}`);
    const s1 = await openStream(port);
    await s1.next();
    assert.equal((await h.ok('stop_streams')).stopped, 1);
    assert.equal((await s1.next()).flags, 0x02);

    const s2 = await openStream(port);
    await s2.next();
    const flags2 = { flags: { only: { state: 'ENABLED', variants: { a: 'x' }, defaultVariant: 'a' } } };
    await h.ok(`set_flags ${tmpFile('f.json', JSON.stringify(flags2))}`);
    assert.equal((await s2.next()).json.type, 'configuration_change');
    await h.ok('stop');
    assert.deepEqual((await s2.next()).json, { type: 'provider_shutdown', data: {} });
    assert.equal((await h.ok('state')).running, false);

    const again = await h.ok('restart');
    assert.equal(again.port, port);
    const r = await post(port, '/ofrep/v1/evaluate/flags', {});
    assert.deepEqual(r.json.flags.map((f) => f.key), ['only']);

    // kill9: streams cut without an end-stream envelope
    const s3 = await openStream(port);
    await s3.next();
    const { pid } = await h.ok('state');
    await h.ok('kill9');
    assert.equal(alive(pid), false);
    assert.notEqual((await s3.ended).complete, true);

    // the old port taken by someone else: restart falls back to a new port
    const blocker = net.createServer();
    await new Promise((r2) => blocker.listen(port, '127.0.0.1', r2));
    try {
      const moved = await h.ok('restart');
      assert.notEqual(moved.port, port);
      assert.equal((await post(moved.port, '/ofrep/v1/evaluate/flags', {})).status, 200);
    } finally {
      blocker.close();
    }
  } finally {
    await h.quit();
  }
});

test('start fails cleanly on definitions flagd-core rejects', { skip }, async () => {
  const h = new Harness();
  try {
    const r = await h.cmd(`start ${tmpFile('bad.json', '{"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"zz"}}}')}`);
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'exited');
    assert.equal((await h.ok('state')).running, false);
    const ctl = await h.cmd('stats');
    assert.equal(ctl.ok, false);
  } finally {
    await h.quit();
  }
});

test('the server dies with the process that started it (stdin EOF)', { skip }, async () => {
  const h = new Harness();
  await h.ok(`start ${flagsFile()}`);
  const { pid, dir } = await h.ok('state');
  assert.equal(alive(pid), true);
  h.proc.kill('SIGKILL');
  await h.exited;
  assert.equal(await eventually(() => !alive(pid)), true);
  fs.rmSync(dir, { recursive: true, force: true }); // the killed harness could not
});

test('destructor stops the server', { skip }, async () => {
  const h = new Harness();
  await h.ok(`start ${flagsFile()}`);
  const { pid } = await h.ok('state');
  const { dir } = await h.ok('state');
  await h.quit();
  assert.equal(await eventually(() => !alive(pid)), true);
  assert.equal(fs.existsSync(dir), false);
});
