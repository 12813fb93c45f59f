// Shared helpers of the integration tests: the real fleetflagd / fleetflag binaries against the
// flagd-protocol test server (tests/server, contract in its README.md).
//
// Hermetic: every agent gets its own temp dir under /tmp (short, so the Unix socket path fits in
// sun_path), servers listen on 127.0.0.1 port 0, and every child process is registered so that
// it is killed when the test that started it ends (t.after) and again when node exits, even
// after a failed assertion or a crash of the test file.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const FIXTURES = path.join(here, 'fixtures');
const SERVER_SCRIPT = path.join(REPO, 'tests', 'server', 'flagd-test-server.mjs');

// CTest passes the binaries; by hand, the newest build under build/ is used.
function findBinary(envName, relPath) {
  if (process.env[envName]) return process.env[envName];
  const buildRoot = path.join(REPO, 'build');
  let best = null;
  for (const d of fs.existsSync(buildRoot) ? fs.readdirSync(buildRoot) : []) {
    const p = path.join(buildRoot, d, relPath);
    try {
      const st = fs.statSync(p);
      if (!best || st.mtimeMs > best.mtime) best = { p, mtime: st.mtimeMs };
    } catch { /* not built there */ }
  }
  if (!best) throw new Error(`${envName} is not set and no ${relPath} was found under build/`);
  return best.p;
}
export const FLEETFLAGD = findBinary('FF_FLEETFLAGD', 'agent/app/fleetflagd');
export const FLEETFLAG = findBinary('FF_FLEETFLAG', 'agent/cli/fleetflag');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- process bookkeeping ----------------------------------------------------------------------

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

// A signal to the test process (Ctrl-C, a runner timeout) must not leave agents behind.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig]));
}

function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child, ms) {
  if (exited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

// SIGTERM, then SIGKILL after `graceMs`; resolves with {code, signal} once the child is gone.
async function terminate(child, graceMs = 5000) {
  if (exited(child)) return { code: child.exitCode, signal: child.signalCode };
  child.kill('SIGTERM');
  const r = await waitExit(child, graceMs);
  if (r) return r;
  child.kill('SIGKILL');
  return waitExit(child, 5000);
}

// --- temp dirs --------------------------------------------------------------------------------

// A fresh directory under /tmp (not $TMPDIR: the socket path must stay well under 108 bytes),
// removed by t.after when `t` is given.
export function tempDir(t, prefix = 'ffi-') {
  const dir = fs.mkdtempSync(path.join('/tmp', prefix));
  if (t) t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// --- polling ----------------------------------------------------------------------------------

// Polls `fn` (sync or async) until it returns a truthy value, which is returned. Throws with
// `what` and the last value / error after `timeoutMs`. Only for "eventually" conditions.
export async function waitFor(fn, { timeoutMs = 15000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
      lastErr = undefined;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const detail = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${detail})`);
    }
    await sleep(intervalMs);
  }
}

// --- HTTP -------------------------------------------------------------------------------------

// One HTTP/1.1 request (no keep-alive). `target` is {socketPath} or {port}. Resolves with
// {status, headers, text, json} (json undefined when the body is not JSON).
export function request(target, method, urlPath, { body, headers = {}, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined
      : (typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    const h = { Connection: 'close', ...headers };
    if (payload !== undefined) {
      h['Content-Length'] = Buffer.byteLength(payload);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
        h['Content-Type'] = 'application/json';
      }
    }
    const opts = { method, path: urlPath, headers: h, agent: false };
    if (target.socketPath) opts.socketPath = target.socketPath;
    else { opts.host = '127.0.0.1'; opts.port = target.port; }
    const req = http.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text.length ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${urlPath}: timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// --- flagd-protocol test server ---------------------------------------------------------------

export class TestServer {
  constructor(t, flagsText) {
    this.t = t;
    this.dir = tempDir(t, 'ffs-');
    this.flagsFile = path.join(this.dir, 'flags.json');
    fs.writeFileSync(this.flagsFile, flagsText);
    this.port = 0;
    this.stderr = '';
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  // Starts (or restarts, on the same port when there was one) the server; resolves once it
  // printed its port.
  async start() {
    const args = [SERVER_SCRIPT, '--port', String(this.port), '--flags', this.flagsFile,
      '--exit-on-stdin-eof'];
    const child = track(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    this.child = child;
    child.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-20000); });
    const rl = readline.createInterface({ input: child.stdout });
    const line = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`test server did not start: ${this.stderr}`)), 20000);
      rl.once('line', (l) => { clearTimeout(timer); resolve(l); });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`test server exited ${code} before listening: ${this.stderr}`));
      });
    });
    rl.close();
    this.port = JSON.parse(line).port;
    if (this.t) this.t.after(() => this.stop());
    return this;
  }

  async stop() {
    if (this.child) await terminate(this.child, 3000);
  }

  async kill9() {
    if (!this.child || exited(this.child)) return;
    this.child.kill('SIGKILL');
    await waitExit(this.child, 5000);
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  async control(method, urlPath, body) {
    const r = await request({ port: this.port }, method, urlPath, { body });
    if (r.status !== 200) throw new Error(`${method} ${urlPath}: ${r.status} ${r.text}`);
    return r.json;
  }

  // PUT /_control/flags; keeps the file in step so that a restart serves the same flags.
  async setFlags(defs) {
    const text = typeof defs === 'string' ? defs : JSON.stringify(defs);
    const r = await request({ port: this.port }, 'PUT', '/_control/flags', { body: text });
    if (r.status !== 200) throw new Error(`set flags: ${r.status} ${r.text}`);
    fs.writeFileSync(this.flagsFile, text);
    return r.json;
  }

  setMode(mode) { return this.control('POST', '/_control/mode', mode); }
  reset() { return this.control('POST', '/_control/reset', {}); }
  stats() { return this.control('GET', '/_control/stats'); }

  async requestCount(p) {
    const s = await this.stats();
    return s.requests[p] || 0;
  }

  // OFREP bulk evaluation by flagd-core for `context`: key -> entry (without "key").
  async ofrepEvaluate(context) {
    const r = await request({ port: this.port }, 'POST', '/ofrep/v1/evaluate/flags', { body: { context } });
    if (r.status !== 200) throw new Error(`oracle evaluation: ${r.status} ${r.text}`);
    const out = {};
    for (const e of r.json.flags) {
      const { key, ...rest } = e;
      out[key] = rest;
    }
    return out;
  }
}

export async function startServer(t, flags) {
  const text = typeof flags === 'string' ? flags : JSON.stringify(flags);
  return new TestServer(t, text).start();
}

// --- fleetflagd -------------------------------------------------------------------------------

export class Agent {
  // opts: mode, url, interval ('1s'), tcp ('127.0.0.1:0'), bootstrap (file), attributes
  // ({k: v}), args (extra argv), dir (reuse a state/socket dir, for restarts), targetingKey,
  // yaml (extra top-level YAML such as `sync:` or `upstream:` blocks), config (the whole YAML
  // file instead), noConfig (no -c at all: the daemon's default path).
  constructor(t, opts = {}) {
    this.t = t;
    this.opts = opts;
    this.dir = opts.dir || tempDir(t, 'ffa-');
    this.socket = path.join(this.dir, 'ff.sock');
    this.stateDir = path.join(this.dir, 'state');
    this.log = '';
    this.tcpPort = 0;
  }

  argv() {
    const o = this.opts;
    const args = ['--socket', this.socket, '--state-dir', this.stateDir, '--log-level', o.logLevel || 'debug'];
    const cfg = path.join(this.dir, 'agent.yaml');
    // -c unless asked not to: without it the daemon would read /etc/fleetflag/agent.yaml.
    if (!o.noConfig) fs.writeFileSync(cfg, o.config ?? [
      'context:',
      `  targeting_key: ${JSON.stringify(o.targetingKey || 'host-0001.example.net')}`,
      `  machine_id_path: ${JSON.stringify(path.join(this.dir, 'no-machine-id'))}`,
      o.yaml || '',
      '',
    ].join('\n'));
    if (!o.noConfig) args.push('-c', cfg);
    if (o.mode) args.push('--mode', o.mode);
    if (o.url) args.push('--url', o.url);
    if (o.interval) args.push('--interval', o.interval);
    if (o.tcp) args.push('--tcp', o.tcp);
    if (o.bootstrap) args.push('--bootstrap', o.bootstrap);
    for (const [k, v] of Object.entries(o.attributes || {})) args.push('--attribute', `${k}=${v}`);
    return args.concat(o.args || []);
  }

  // Spawns the daemon. With `wait` (default) resolves once the socket answers /healthz, and
  // rejects if the daemon exits first.
  async start({ wait = true } = {}) {
    this.log = '';
    const child = track(spawn(FLEETFLAGD, this.argv(), { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child = child;
    const onData = (d) => {
      this.log = (this.log + d).slice(-200000);
      const m = /tcp port (\d+)/.exec(this.log);
      if (m) this.tcpPort = Number(m[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    if (this.t && !this.registered) {
      this.registered = true;
      this.t.after(async () => {
        await this.stop();
        // Sanitizer builds (FF_SANITIZE=ON): a report fails the test that provoked it.
        const report = /ERROR: (Address|Leak|Thread)Sanitizer|runtime error:/.exec(this.log);
        if (report) throw new Error(`sanitizer report from fleetflagd\n${this.diag()}`);
      });
    }
    if (!wait) return this;
    const deadline = Date.now() + 15000;
    for (;;) {
      if (exited(child)) throw new Error(`fleetflagd exited before serving\n${this.diag()}`);
      try {
        const r = await this.get('/healthz', { timeoutMs: 2000 });
        if (r.status === 200) return this;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`fleetflagd did not serve in 15 s\n${this.diag()}`);
      await sleep(20);
    }
  }

  get pid() { return this.child?.pid; }
  get running() { return this.child && !exited(this.child); }

  async stop() {
    if (this.child) return terminate(this.child, 8000);
    return null;
  }

  async kill9() {
    if (!this.child || exited(this.child)) return;
    this.child.kill('SIGKILL');
    await waitExit(this.child, 5000);
  }

  signal(sig) { this.child.kill(sig); }
  waitExit(ms = 10000) { return waitExit(this.child, ms); }

  request(method, urlPath, opts) { return request({ socketPath: this.socket }, method, urlPath, opts); }
  get(urlPath, opts) { return this.request('GET', urlPath, opts); }

  async json(urlPath) {
    const r = await this.get(urlPath);
    if (r.json === undefined) throw new Error(`GET ${urlPath}: ${r.status} non-JSON: ${r.text}`);
    return r.json;
  }

  status() { return this.json('/v1/status'); }
  flags() { return this.json('/v1/flags'); }

  // What went on in the daemon, for failure messages.
  diag() {
    const state = !this.child ? 'not started'
      : exited(this.child) ? `exited (${this.child.exitCode ?? this.child.signalCode})` : 'running';
    return `fleetflagd pid ${this.child?.pid} ${state}; socket ${this.socket} ` +
      `${fs.existsSync(this.socket) ? 'exists' : 'missing'}\n--- log (tail) ---\n${this.log.slice(-6000)}`;
  }

  // waitFor with the daemon's state and log in the error.
  async waitFor(fn, opts) {
    try {
      return await waitFor(fn, opts);
    } catch (e) {
      throw new Error(`${e.message}\n${this.diag()}`);
    }
  }

  // Waits until /v1/flags answers 200 and `pred(body)` holds; returns the body.
  waitFlags(pred = () => true, opts = {}) {
    return this.waitFor(async () => {
      const r = await this.get('/v1/flags');
      return r.status === 200 && pred(r.json) ? r.json : false;
    }, { what: 'flags', ...opts });
  }

  waitStatus(pred, opts = {}) {
    return this.waitFor(async () => {
      const s = await this.status();
      return pred(s) ? s : false;
    }, { what: 'status', ...opts });
  }
}

export async function startAgent(t, opts) {
  return new Agent(t, opts).start();
}

// --- fleetflag CLI ----------------------------------------------------------------------------

// Runs the CLI to completion: {code, stdout, stderr}.
export function cli(args, { timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(FLEETFLAG, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fleetflag ${args.join(' ')}: timeout; stdout=${stdout} stderr=${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Spawns the CLI without waiting (for `watch`); the caller reads child.stdout.
export function cliSpawn(t, args) {
  const child = track(spawn(FLEETFLAG, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  if (t) t.after(() => terminate(child, 2000));
  return child;
}

export function sqlite3(dbPath, sql) {
  return spawnSync('sqlite3', [dbPath, sql], { encoding: 'utf8', timeout: 30000 });
}

// --- fixtures ---------------------------------------------------------------------------------

export function fixture(name) {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

export function fixtureJson(name) {
  return JSON.parse(fixture(name));
}

// A host context without the fields that move by themselves (`time`: the clock advances every
// second), for comparing two contexts read at different moments.
export function withoutClock(context) {
  const { time, ...rest } = context;
  return rest;
}

// Only the evaluated part of a canonical/OFREP answer, for comparing the agent with flagd-core.
export function evaluated(a) {
  const out = {};
  for (const k of ['value', 'variant', 'reason', 'errorCode']) if (a[k] !== undefined) out[k] = a[k];
  return out;
}
