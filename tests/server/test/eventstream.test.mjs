// EventStream over Connect server-streaming (flagd-notes.md §4b): envelope framing, message
// order, configuration_change diffs, keep_alive, end-stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, openStream, control, envelope, parseEnvelopes, post, FLAGS } from './helpers.mjs';

const STREAM = '/flagd.evaluation.v1.Service/EventStream';

test('raw framing: chunked body, 0x00 envelopes, provider_ready first, 0x02 {} on stop', async () => {
  const srv = await startServer();
  try {
    const sock = net.connect(srv.port, '127.0.0.1');
    const body = envelope(0, {});
    sock.write(`POST ${STREAM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/connect+json\r\n` +
      `Connect-Protocol-Version: 1\r\nContent-Length: ${body.length}\r\n\r\n`);
    sock.write(body);
    let raw = Buffer.alloc(0);
    sock.on('data', (d) => { raw = Buffer.concat([raw, d]); });
    const waitFor = async (pred) => {
      const deadline = Date.now() + 10000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timeout; got ${raw.toString('latin1')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await waitFor(() => raw.includes('provider_ready'));
    const text = raw.toString('latin1');
    const headEnd = text.indexOf('\r\n\r\n');
    const head = text.slice(0, headEnd);
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /\r\ncontent-type: application\/connect\+json/i);
    assert.match(head, /\r\ntransfer-encoding: chunked/i);
    // first chunk = exactly one envelope
    const rest = raw.subarray(headEnd + 4);
    const sizeEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, sizeEnd).toString(), 16);
    const chunk = rest.subarray(sizeEnd + 2, sizeEnd + 2 + size);
    const ready = JSON.stringify({ type: 'provider_ready', data: {} });
    assert.equal(chunk[0], 0x00);
    assert.equal(chunk.readUInt32BE(1), Buffer.byteLength(ready));
    assert.equal(chunk.subarray(5).toString(), ready);
    assert.equal(size, 5 + Buffer.byteLength(ready));

    const stopped = await control(srv.port, 'POST', '/_control/stop-streams', {});
    assert.equal(stopped.stopped, 1);
    await waitFor(() => raw.toString('latin1').endsWith('0\r\n\r\n'));
    const tail = raw.toString('latin1');
    // the end-stream envelope: flags 0x02, length 2, "{}"
    assert.ok(tail.includes('\x02\x00\x00\x00\x02{}'), JSON.stringify(tail));
    sock.destroy();

    const stats = await control(srv.port, 'GET', '/_control/stats');
    assert.deepEqual(stats.last[STREAM].body, {});
    assert.equal(stats.requests[STREAM], 1);
    assert.equal(stats.last[STREAM].headers['connect-protocol-version'], '1');
  } finally {
    await srv.stop();
  }
});

test('configuration_change carries write/update/delete per flag, to every stream', async () => {
  const srv = await startServer();
  try {
    const a = await openStream(srv.port, { 'Flagd-Selector': 'fleet' });
    const b = await openStream(srv.port);
    assert.equal(a.status, 200);
    assert.deepEqual((await a.next()).json, { type: 'provider_ready', data: {} });
    assert.deepEqual((await b.next()).json, { type: 'provider_ready', data: {} });

    const next = JSON.parse(JSON.stringify(FLAGS));
    delete next.flags['bool-flag'];
    next.flags['string-flag'].defaultVariant = 'b';
    next.flags['new-flag'] = { state: 'ENABLED', variants: { on: true }, defaultVariant: 'on' };
    const res = await control(srv.port, 'PUT', '/_control/flags', next);
    const changed = { 'bool-flag': 'delete', 'string-flag': 'update', 'new-flag': 'write' };
    assert.deepEqual(res.changed, changed);
    const expected = {
      type: 'configuration_change',
      data: { flags: { 'bool-flag': { type: 'delete' }, 'string-flag': { type: 'update' }, 'new-flag': { type: 'write' } } },
    };
    for (const s of [a, b]) {
      const m = await s.next();
      assert.equal(m.flags, 0);
      assert.deepEqual(m.json, expected);
    }
    // evaluators and set metadata changes are updates of the flags they touch
    const meta = JSON.parse(JSON.stringify(next));
    meta.metadata.version = 4;
    await control(srv.port, 'PUT', '/_control/flags', meta);
    const m = await a.next();
    assert.deepEqual(Object.keys(m.json.data.flags).sort(), Object.keys(meta.flags).sort());
    assert.ok(Object.values(m.json.data.flags).every((t) => t.type === 'update'));
    await b.next();

    // identical definitions: no event (a keep-alive would be the next message)
    const same = await control(srv.port, 'PUT', '/_control/flags', meta);
    assert.deepEqual(same.changed, {});
    await control(srv.port, 'POST', '/_control/keepalive', { ms: 100 });
    assert.deepEqual((await a.next()).json, { type: 'keep_alive', data: null });

    const stats = await control(srv.port, 'GET', '/_control/stats');
    assert.equal(stats.streams, 2);
    assert.equal(stats.last[STREAM].headers['flagd-selector'], undefined); // b came last
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

test('rejected definitions change nothing and send no event', async () => {
  const srv = await startServer();
  try {
    const s = await openStream(srv.port);
    await s.next();
    const bad = await post(srv.port, '/_control/flags', '{"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"zz"}}}');
    assert.equal(bad.status, 404); // POST is not the route
    const r = await fetch(`http://127.0.0.1:${srv.port}/_control/flags`, {
      method: 'PUT', body: '{"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"zz"}}}',
    });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /rejected/);
    const nj = await fetch(`http://127.0.0.1:${srv.port}/_control/flags`, { method: 'PUT', body: 'not json' });
    assert.equal(nj.status, 400);
    await control(srv.port, 'POST', '/_control/keepalive', { ms: 50 });
    assert.equal((await s.next()).json.type, 'keep_alive');
    const ok = await post(srv.port, '/ofrep/v1/evaluate/flags/bool-flag', {});
    assert.equal(ok.json.value, true);
    s.close();
  } finally {
    await srv.stop();
  }
});

test('keep_alive after keepAliveMs of silence (CLI flag), repeatedly', async () => {
  const srv = await startServer({ args: ['--keep-alive-ms', '80'] });
  try {
    const s = await openStream(srv.port);
    assert.equal((await s.next()).json.type, 'provider_ready');
    for (let i = 0; i < 3; i++) {
      const m = await s.next();
      assert.deepEqual(m.json, { type: 'keep_alive', data: null });
      assert.equal(m.raw.toString(), '{"type":"keep_alive","data":null}');
    }
    s.close();
  } finally {
    await srv.stop();
  }
});

test('stop-streams: abrupt cuts the socket; error carries a Connect end-stream error', async () => {
  const srv = await startServer();
  try {
    const s1 = await openStream(srv.port);
    await s1.next();
    await control(srv.port, 'POST', '/_control/stop-streams', { abrupt: true });
    const e1 = await s1.ended;
    assert.notEqual(e1.complete, true);

    const s2 = await openStream(srv.port);
    await s2.next();
    const err = { code: 'deadline_exceeded', message: 'stream closed due to server-side timeout' };
    await control(srv.port, 'POST', '/_control/stop-streams', { error: err });
    const end = await s2.next();
    assert.equal(end.flags, 0x02);
    assert.deepEqual(end.json, { error: err, metadata: {} });
    assert.equal(await s2.next(), null);
    assert.equal((await s2.ended).complete, true);
  } finally {
    await srv.stop();
  }
});

test('SIGTERM: provider_shutdown then end-stream, exit 0', async () => {
  const srv = await startServer();
  const s = await openStream(srv.port);
  await s.next();
  srv.proc.kill('SIGTERM');
  assert.deepEqual((await s.next()).json, { type: 'provider_shutdown', data: {} });
  const end = await s.next();
  assert.equal(end.flags, 0x02);
  assert.deepEqual(end.json, {});
  const { code } = await srv.exited;
  assert.equal(code, 0);
});

test('415 on a non-connect content type; request envelope recorded', async () => {
  const srv = await startServer();
  try {
    const r = await post(srv.port, STREAM, envelope(0, {}), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 415);
    const s = await openStream(srv.port);
    await s.next();
    s.close();
    const parsed = parseEnvelopes(envelope(0, { a: 1 }));
    assert.deepEqual(parsed.messages[0].json, { a: 1 });
  } finally {
    await srv.stop();
  }
});
