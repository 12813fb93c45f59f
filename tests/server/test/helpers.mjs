// Shared helpers for the test server's self-tests: spawn a server, make requests, read
// Connect envelopes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVER = fileURLToPath(new URL('../flagd-test-server.mjs', import.meta.url));

export const FLAGS = {
  flags: {
    'bool-flag': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
    'int-flag': {
      state: 'ENABLED',
      variants: { ten: 10, half: 0.5, big: 9007199254740991 },
      defaultVariant: 'ten',
      targeting: {
        if: [{ '==': [{ var: 'targetingKey' }, 'half'] }, 'half',
          { '==': [{ var: 'targetingKey' }, 'big'] }, 'big', null],
      },
    },
    'string-flag': { state: 'ENABLED', variants: { a: 'A', b: 'B' }, defaultVariant: 'a', metadata: { owner: 'ops' } },
    'object-flag': { state: 'ENABLED', variants: { x: { k: 1, s: 'v' } }, defaultVariant: 'x' },
    'disabled-flag': { state: 'DISABLED', variants: { on: true }, defaultVariant: 'on' },
    'no-default': { state: 'ENABLED', variants: { on: true, off: false } },
    'no-default-targeted': {
      state: 'ENABLED', variants: { on: true, off: false },
      targeting: { if: [{ '==': [{ var: 'targetingKey' }, 'u1'] }, 'on', null] },
    },
    'missing-variant': {
      state: 'ENABLED', variants: { on: true }, defaultVariant: 'on', targeting: { if: [true, 'nope'] },
    },
    'unparsable': {
      state: 'ENABLED', variants: { on: true }, defaultVariant: 'on', targeting: { 'no-such-op': [1] },
    },
    'time-flag': {
      state: 'ENABLED', variants: { before: 'before', after: 'after' }, defaultVariant: 'before',
      targeting: { if: [{ '>=': [{ var: '$flagd.timestamp' }, 1767225600] }, 'after', 'before'] },
    },
  },
  metadata: { flagSetId: 'fleet', version: 3 },
};

const tmpDirs = [];
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

export function tmpFile(name, text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-ts-test-'));
  tmpDirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

// Starts a server; resolves to {port, proc, stderr(), stop()}.
export async function startServer({ flags = FLAGS, args = [] } = {}) {
  const text = typeof flags === 'string' ? flags : JSON.stringify(flags);
  const file = tmpFile('flags.json', text);
  const proc = spawn(process.execPath, [SERVER, '--flags', file, '--port', '0', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  let stdout = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port line; stderr: ${stderr}`)), 20000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(stdout.slice(0, nl)).port);
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    port,
    proc,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

// One request; resolves to {status, headers, body (Buffer), text, json}. Rejects on socket errors.
export function request(port, method, target, { body, headers = {}, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (Buffer.isBuffer(body) ? body : Buffer.from(
      typeof body === 'string' ? body : JSON.stringify(body)));
    const h = { ...headers };
    if (data !== undefined) h['Content-Length'] = data.length;
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text, json });
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('aborted')));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export const post = (port, target, body, headers = {}) =>
  request(port, 'POST', target, { body, headers: { 'Content-Type': 'application/json', ...headers } });

export const control = async (port, method, target, body) => {
  const r = await request(port, method, target, { body });
  if (r.status !== 200) throw new Error(`${method} ${target} -> ${r.status} ${r.text}`);
  return r.json;
};

export function envelope(flags, obj) {
  const payload = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

// Parses complete envelopes out of `buf`; returns {messages:[{flags, json, raw}], rest}.
export function parseEnvelopes(buf) {
  const messages = [];
  let off = 0;
  while (buf.length - off >= 5) {
    const len = buf.readUInt32BE(off + 1);
    if (buf.length - off - 5 < len) break;
    const raw = buf.subarray(off + 5, off + 5 + len);
    let json;
    try { json = JSON.parse(raw.toString('utf8')); } catch { json = undefined; }
    messages.push({ flags: buf[off], json, raw });
    off += 5 + len;
  }
  return { messages, rest: buf.subarray(off) };
}

// Opens an EventStream. `next()` resolves to the next envelope (or null at end of body);
// `ended` resolves when the response ends/closes ({error} when the socket failed).
export function openStream(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const body = envelope(0, {});
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/flagd.evaluation.v1.Service/EventStream', agent: false,
      headers: { 'Content-Type': 'application/connect+json', 'Content-Length': body.length, ...headers },
    }, (res) => {
      let buf = Buffer.alloc(0);
      const queue = [];
      const waiters = [];
      let done = false;
      const flush = () => {
        while (queue.length && waiters.length) waiters.shift()(queue.shift());
        if (done) while (waiters.length) waiters.shift()(null);
      };
      let endedResolve;
      const ended = new Promise((r) => { endedResolve = r; });
      res.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        const { messages, rest } = parseEnvelopes(buf);
        buf = rest;
        queue.push(...messages);
        flush();
      });
      const finish = (info) => {
        if (done) return;
        done = true;
        flush();
        endedResolve({ ...info, leftover: buf });
      };
      res.on('end', () => finish({ complete: true }));
      res.on('aborted', () => finish({ error: 'aborted' }));
      res.on('error', (e) => finish({ error: e.message }));
      res.on('close', () => finish({ complete: res.complete }));
      resolve({
        status: res.statusCode,
        headers: res.headers,
        res,
        ended,
        next: (timeoutMs = 10000) => new Promise((r, j) => {
          const t = setTimeout(() => j(new Error('no envelope in time')), timeoutMs);
          waiters.push((m) => { clearTimeout(t); r(m); });
          flush();
        }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
