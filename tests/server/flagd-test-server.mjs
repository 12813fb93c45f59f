#!/usr/bin/env node
// flagd-protocol test server: OFREP, flagd.evaluation.v1 over Connect/JSON (unary + EventStream)
// and HTTP definitions, evaluated by @openfeature/flagd-core, plus a control API for failure
// injection. The contract (routes, shapes, modes) is tests/server/README.md; keep them in step.
//
// Prints exactly one line {"port":N} on stdout once listening; everything else goes to stderr.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let FlagdCore;
try {
  ({ FlagdCore } = require('@openfeature/flagd-core'));
} catch (err) {
  process.stderr.write(`[flagd-test-server] @openfeature/flagd-core is not installed; run ` +
    `scripts/setup.sh (npm ci in tests/server): ${err.message}\n`);
  process.exit(2);
}

const MAX_BODY = 1 << 20;
const OFREP_PREFIX = '/ofrep/v1/evaluate/flags';
const CONNECT_PREFIX = '/flagd.evaluation.v1.Service/';
const EMPTY_FLAGS = '{"flags":{}}';

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const opts = {
    flags: null, port: 0, host: '127.0.0.1', keepAliveMs: 20000, exitOnStdinEof: false,
    verbose: process.env.FF_TESTSERVER_VERBOSE === '1',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) fail(`missing value after ${a}`);
      return argv[++i];
    };
    if (a === '--flags') opts.flags = next();
    else if (a === '--port') opts.port = Number(next());
    else if (a === '--host') opts.host = next();
    else if (a === '--keep-alive-ms') opts.keepAliveMs = Number(next());
    else if (a === '--exit-on-stdin-eof') opts.exitOnStdinEof = true;
    else if (a === '--verbose') opts.verbose = true;
    else fail(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail('bad --port');
  if (!(opts.keepAliveMs > 0)) fail('bad --keep-alive-ms');
  return opts;
}

function fail(msg, code = 2) {
  process.stderr.write(`[flagd-test-server] ${msg}\n`);
  process.exit(code);
}

function log(msg) {
  process.stderr.write(`[flagd-test-server] ${msg}\n`);
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// Clock: flagd-core reads Date.now() for $flagd.timestamp; /_control/now pins it.

const realDateNow = Date.now.bind(Date);
let fixedNowMs = null;
Date.now = () => (fixedNowMs === null ? realDateNow() : fixedNowMs);

// ---------------------------------------------------------------------------------------------
// Flag state

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

function loadCore(text) {
  const core = new FlagdCore(undefined, silentLogger);
  core.setConfigurations(text); // throws on JSON errors, bad state, unknown defaultVariant
  return core;
}

const state = {
  core: null,
  definitionsText: EMPTY_FLAGS, // what GET /flags.json serves (may be raw, see ?raw=1)
  keepAliveMs: opts.keepAliveMs,
  mode: { mode: 'normal' },
  authToken: null,
  requests: {},
  last: {},
  streamsOpened: 0,
};
const streams = new Set();

{
  let text = EMPTY_FLAGS;
  if (opts.flags) {
    try {
      text = fs.readFileSync(opts.flags, 'utf8');
    } catch (err) {
      fail(`cannot read --flags ${opts.flags}: ${err.message}`);
    }
  }
  try {
    state.core = loadCore(text);
  } catch (err) {
    fail(`flagd-core rejected ${opts.flags}: ${errorText(err)}`);
  }
  state.definitionsText = text;
}

function errorText(err) {
  const cause = err && err.cause ? `: ${err.cause.message ?? err.cause}` : '';
  return `${err && err.message ? err.message : String(err)}${cause}`;
}

// Per-flag diff between two loaded cores; flagd-core's hash covers the flag after $ref
// substitution and set-metadata merge, so evaluator and metadata changes show up as updates.
function diffFlags(oldCore, newCore) {
  const changed = {};
  const oldFlags = oldCore.getFlags();
  const newFlags = newCore.getFlags();
  for (const [key, flag] of newFlags) {
    if (!oldFlags.has(key)) changed[key] = 'write';
    else if (oldFlags.get(key).hash !== flag.hash) changed[key] = 'update';
  }
  for (const key of oldFlags.keys()) if (!newFlags.has(key)) changed[key] = 'delete';
  return changed;
}

// ---------------------------------------------------------------------------------------------
// Evaluation (flagd semantics on top of FeatureFlag.evaluate, which skips the typed API's
// default substitution)

function evaluate(flag, context) {
  try {
    return flag.evaluate(context, silentLogger);
  } catch (err) {
    return { reason: 'ERROR', errorCode: 'GENERAL', errorMessage: errorText(err), flagMetadata: flag.metadata };
  }
}

function ofrepEntry(key, flag, context) {
  const metadata = flag.metadata ?? {};
  if (flag.state === 'DISABLED') return { key, reason: 'DISABLED', metadata };
  const r = evaluate(flag, context);
  if (r.errorCode) return { key, errorCode: r.errorCode, errorDetails: r.errorMessage ?? '', metadata };
  if (r.value === undefined) return { key, reason: r.reason, metadata };
  return { key, value: r.value, reason: r.reason, variant: r.variant, metadata };
}

function valueKind(v) {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'double';
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return 'object';
  return null;
}

const ZERO = { bool: false, string: '', double: 0, object: {} };
const ANY_FLAG_FIELD = { bool: 'boolValue', string: 'stringValue', double: 'doubleValue', object: 'objectValue' };

// flagd v1 ResolveAll: disabled and no-default-variant flags are skipped; the value type is the
// default variant's; errors (incl. a result of another type) come back as ERROR + zero value.
function resolveAllV1(context) {
  const flags = {};
  for (const [key, flag] of state.core.getFlags()) {
    if (flag.state === 'DISABLED' || flag.defaultVariant === undefined) continue;
    const kind = valueKind(flag.variants.get(flag.defaultVariant));
    if (kind === null) continue;
    const metadata = flag.metadata ?? {};
    const r = evaluate(flag, context);
    if (r.errorCode || r.value === undefined || valueKind(r.value) !== kind) {
      flags[key] = { reason: 'ERROR', variant: '', [ANY_FLAG_FIELD[kind]]: ZERO[kind], metadata };
    } else {
      flags[key] = { reason: r.reason, variant: r.variant, [ANY_FLAG_FIELD[kind]]: r.value, metadata };
    }
  }
  return { flags, metadata: state.core.getFlagSetMetadata() ?? {} };
}

const RESOLVE_METHODS = {
  ResolveBoolean: { kinds: ['bool'], zero: false },
  ResolveString: { kinds: ['string'], zero: '' },
  ResolveFloat: { kinds: ['double'], zero: 0 },
  ResolveInt: { kinds: ['double'], zero: '0' },
  ResolveObject: { kinds: ['object'], zero: {} },
};

// protojson int64: decimal string; Go's int64(float64) truncates (and saturates here).
function int64String(v) {
  if (!Number.isFinite(v)) return '0';
  let b = BigInt(Math.trunc(v));
  const max = (1n << 63n) - 1n;
  const min = -(1n << 63n);
  if (b > max) b = max;
  if (b < min) b = min;
  return b.toString();
}

const CONNECT_ERRORS = {
  FLAG_NOT_FOUND: { code: 'not_found', http: 404, message: 'FlagdError:, FLAG_NOT_FOUND' },
  TYPE_MISMATCH: { code: 'invalid_argument', http: 400, message: 'FlagdError:, TYPE_MISMATCH' },
  PARSE_ERROR: { code: 'data_loss', http: 500, message: 'FlagdError:, PARSE_ERROR' },
  GENERAL: { code: 'unknown', http: 500, message: 'GENERAL' },
};

function connectError(errorCode) {
  const e = CONNECT_ERRORS[errorCode] ?? CONNECT_ERRORS.GENERAL;
  return jsonResponse(e.http, { code: e.code, message: e.message });
}

function resolveV1(method, key, context) {
  const spec = RESOLVE_METHODS[method];
  const flag = state.core.getFlag(key);
  if (!flag) return connectError('FLAG_NOT_FOUND');
  const metadata = flag.metadata ?? {};
  if (flag.state === 'DISABLED') {
    return jsonResponse(200, { value: spec.zero, reason: 'DISABLED', variant: '', metadata });
  }
  const r = evaluate(flag, context);
  if (r.errorCode) return connectError(r.errorCode);
  if (r.value === undefined) return connectError('FLAG_NOT_FOUND'); // v1 "old proto behaviour"
  if (!spec.kinds.includes(valueKind(r.value))) return connectError('TYPE_MISMATCH');
  const value = method === 'ResolveInt' ? int64String(r.value) : r.value;
  return jsonResponse(200, { value, reason: r.reason, variant: r.variant, metadata });
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

function jsonResponse(status, obj, headers = {}) {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(obj) };
}

function quotedSha256(data) {
  return `"${crypto.createHash('sha256').update(data).digest('hex')}"`;
}

// RFC 9110 If-None-Match with flagd's leniency (W/ prefixes, unquoted tags).
function ifNoneMatch(header, etag) {
  if (header === undefined) return false;
  const fields = Array.isArray(header) ? header : [header];
  for (const field of fields) {
    let start = 0;
    let quoted = false;
    const candidates = [];
    for (let i = 0; i <= field.length; i++) {
      const c = field[i];
      if (c === '"') quoted = !quoted;
      else if ((c === ',' && !quoted) || i === field.length) {
        const tag = field.slice(start, i).trim();
        if (tag) candidates.push(tag);
        start = i + 1;
      }
    }
    for (let tag of candidates) {
      if (tag === '*') return true;
      if (tag.startsWith('W/')) tag = tag.slice(2);
      if (tag === etag || `"${tag}"` === etag) return true;
    }
  }
  return false;
}

function send(res, r) {
  const body = r.body === undefined ? '' : r.body;
  const headers = { ...r.headers };
  if (r.status !== 304) headers['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(r.status, headers);
  res.end(r.status === 304 ? undefined : body);
}

function routeKind(path) {
  if (path === OFREP_PREFIX) return 'ofrep-bulk';
  if (path.startsWith(`${OFREP_PREFIX}/`)) return 'ofrep-single';
  if (path === `${CONNECT_PREFIX}EventStream`) return 'connect-stream';
  if (path === `${CONNECT_PREFIX}ResolveAll`) return 'connect-all';
  if (path.startsWith(CONNECT_PREFIX)) return 'connect-unary';
  if (path === '/flags.json' || path === '/flags.yaml') return 'definitions';
  return 'other';
}

const CONNECT_CODE_BY_HTTP = {
  400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found',
  408: 'deadline_exceeded', 409: 'aborted', 413: 'resource_exhausted', 429: 'resource_exhausted',
  499: 'canceled', 500: 'internal', 501: 'unimplemented', 503: 'unavailable', 504: 'deadline_exceeded',
};

function errorShape(kind, status, message, key) {
  if (kind === 'ofrep-bulk') return { errorCode: 'GENERAL', errorDetails: message };
  if (kind === 'ofrep-single') return { key, errorCode: 'GENERAL', errorDetails: message };
  if (kind.startsWith('connect')) return { code: CONNECT_CODE_BY_HTTP[status] ?? 'unknown', message };
  return { error: message };
}

function parseJsonBody(buf) {
  const text = buf.toString('utf8');
  if (text.trim() === '') return { ok: true, value: {}, empty: true };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mediaType(req) {
  return String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function decodeEnvelope(buf) {
  if (buf.length < 5) return null;
  const len = buf.readUInt32BE(1);
  const payload = buf.subarray(5, 5 + len).toString('utf8');
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

function envelope(flags, payload) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

// ---------------------------------------------------------------------------------------------
// Route handlers (unary: return {status, headers, body})

function contextFrom(body, kind, key) {
  const parsed = parseJsonBody(body);
  const bad = (details) => {
    const obj = kind === 'ofrep-single'
      ? { key, errorCode: 'INVALID_CONTEXT', errorDetails: details }
      : { errorCode: 'INVALID_CONTEXT', errorDetails: details };
    return { error: jsonResponse(400, obj) };
  };
  if (!parsed.ok) return bad(`invalid JSON body: ${parsed.error}`);
  if (!isPlainObject(parsed.value)) return bad('body must be a JSON object');
  const ctx = parsed.value.context;
  if (ctx === undefined || ctx === null) return { context: {} };
  if (!isPlainObject(ctx)) return bad('context must be a JSON object');
  return { context: ctx };
}

function handleOfrepBulk(req, body) {
  const c = contextFrom(body, 'ofrep-bulk');
  if (c.error) return c.error;
  const flags = [];
  for (const [key, flag] of state.core.getFlags()) flags.push(ofrepEntry(key, flag, c.context));
  const text = JSON.stringify({ flags, metadata: state.core.getFlagSetMetadata() ?? {} });
  const etag = quotedSha256(text);
  if (ifNoneMatch(req.headers['if-none-match'], etag)) return { status: 304, headers: { ETag: etag } };
  return { status: 200, headers: { 'Content-Type': 'application/json', ETag: etag }, body: text };
}

function handleOfrepSingle(key, body) {
  const c = contextFrom(body, 'ofrep-single', key);
  if (c.error) return c.error;
  const flag = state.core.getFlag(key);
  if (!flag) {
    return jsonResponse(404, {
      key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag \`${key}\` not found`,
      metadata: state.core.getFlagSetMetadata() ?? {},
    });
  }
  const entry = ofrepEntry(key, flag, c.context);
  return jsonResponse(entry.errorCode ? 400 : 200, entry);
}

function connectRequest(req, body, needsKey) {
  if (mediaType(req) !== 'application/json') {
    return { error: { status: 415, headers: { 'Accept-Post': 'application/json, application/proto' }, body: '' } };
  }
  const parsed = parseJsonBody(body);
  const invalid = (m) => ({ error: jsonResponse(400, { code: 'invalid_argument', message: m }) });
  if (!parsed.ok) return invalid(`unmarshal message: ${parsed.error}`);
  if (!isPlainObject(parsed.value)) return invalid('unmarshal message: not an object');
  const { context, flagKey } = parsed.value;
  if (context !== undefined && context !== null && !isPlainObject(context)) {
    return invalid('unmarshal message: context must be an object');
  }
  if (needsKey && flagKey !== undefined && flagKey !== null && typeof flagKey !== 'string') {
    return invalid('unmarshal message: flagKey must be a string');
  }
  return { context: context ?? {}, flagKey: flagKey ?? '' };
}

function handleConnectUnary(req, path, body) {
  const method = path.slice(CONNECT_PREFIX.length);
  if (method === 'ResolveAll') {
    const c = connectRequest(req, body, false);
    if (c.error) return c.error;
    return jsonResponse(200, resolveAllV1(c.context));
  }
  if (!RESOLVE_METHODS[method]) return jsonResponse(404, { code: 'unimplemented', message: `unknown method ${method}` });
  const c = connectRequest(req, body, true);
  if (c.error) return c.error;
  return resolveV1(method, c.flagKey, c.context);
}

function handleDefinitions(req, path) {
  if (path !== '/flags.json') return jsonResponse(404, { error: 'not found' });
  const etag = quotedSha256(state.definitionsText);
  if (ifNoneMatch(req.headers['if-none-match'], etag)) return { status: 304, headers: { ETag: etag } };
  return { status: 200, headers: { 'Content-Type': 'application/json', ETag: etag }, body: state.definitionsText };
}

// ---------------------------------------------------------------------------------------------
// EventStream

class Stream {
  constructor(req, res) {
    this.req = req;
    this.res = res;
    this.timer = null;
    this.closed = false;
    res.on('close', () => this.detach());
  }

  open() {
    streams.add(this);
    state.streamsOpened++;
    this.res.writeHead(200, { 'Content-Type': 'application/connect+json' });
    this.send({ type: 'provider_ready', data: {} });
  }

  send(msg) {
    if (this.closed) return;
    this.res.write(envelope(0x00, JSON.stringify(msg)));
    this.armKeepAlive();
  }

  armKeepAlive() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.send({ type: 'keep_alive', data: null }), state.keepAliveMs);
  }

  end(endMessage = {}) {
    if (this.closed) return;
    this.res.end(envelope(0x02, JSON.stringify(endMessage)));
    this.detach();
  }

  destroy() {
    if (this.closed) return;
    this.detach();
    this.req.socket.destroy();
  }

  detach() {
    this.closed = true;
    clearTimeout(this.timer);
    streams.delete(this);
  }
}

function handleEventStream(req, res, body, mode) {
  if (req.method !== 'POST') return send(res, jsonResponse(405, { code: 'unknown', message: 'method not allowed' }));
  if (mediaType(req) !== 'application/connect+json') {
    return send(res, { status: 415, headers: { 'Accept-Post': 'application/connect+json, application/connect+proto' }, body: '' });
  }
  const m = mode ? mode.mode : 'normal';
  if (m === 'garbage' || m === 'wrongtype') {
    res.writeHead(200, { 'Content-Type': 'application/connect+json' });
    const payload = m === 'garbage' ? GARBAGE : Buffer.from('[1,2,3]');
    res.write(envelope(0x00, payload));
    res.end(envelope(0x02, '{}'));
    return;
  }
  if (m === 'truncate') {
    res.writeHead(200, { 'Content-Type': 'application/connect+json' });
    res.write(envelope(0x00, JSON.stringify({ type: 'provider_ready', data: {} })).subarray(0, 3), () => {
      req.socket.destroy();
    });
    return;
  }
  if (m === 'huge') {
    res.writeHead(200, { 'Content-Type': 'application/connect+json' });
    const size = mode.hugeBytes ?? 50 * 1024 * 1024;
    const prefix = '{"type":"provider_ready","data":{"pad":"';
    const suffix = '"}}';
    const head = Buffer.alloc(5);
    head.writeUInt32BE(size, 1);
    streamChunks(res, [head, Buffer.from(prefix)], size - prefix.length - suffix.length, [Buffer.from(suffix)], () => {
      res.end(envelope(0x02, '{}'));
    });
    return;
  }
  new Stream(req, res).open();
}

// ---------------------------------------------------------------------------------------------
// Failure modes

const GARBAGE = Buffer.concat([Buffer.from('<<not json>>'), Buffer.from([0x00, 0xff]), Buffer.from('{"flags":')]);

// Writes `head`, then `fillBytes` bytes of 'x', then `tail`, honouring backpressure.
function streamChunks(res, head, fillBytes, tail, done) {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (const h of head) res.write(h);
  let left = fillBytes;
  const pump = () => {
    while (left > 0) {
      if (res.destroyed) return;
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    for (const t of tail) res.write(t);
    if (done) done();
    else res.end();
  };
  pump();
}

// Item-repeating huge bodies: prefix + items joined by ',' + suffix, about `size` bytes.
function hugeItems(kind, size) {
  const pad = (i) => String(i).padStart(8, '0');
  let prefix;
  let suffix;
  let item;
  if (kind === 'ofrep-bulk') {
    prefix = '{"flags":[';
    suffix = '],"metadata":{}}';
    item = (i) => `{"key":"huge-${pad(i)}","value":true,"reason":"STATIC","variant":"on","metadata":{}}`;
  } else if (kind === 'connect-all') {
    prefix = '{"flags":{';
    suffix = '},"metadata":{}}';
    item = (i) => `"huge-${pad(i)}":{"reason":"STATIC","variant":"on","boolValue":true,"metadata":{}}`;
  } else if (kind === 'definitions') {
    prefix = '{"flags":{';
    suffix = '}}';
    item = (i) => `"huge-${pad(i)}":{"state":"ENABLED","variants":{"on":true},"defaultVariant":"on"}`;
  } else {
    return null;
  }
  const itemLen = Buffer.byteLength(item(0)) + 1;
  const count = Math.max(1, Math.ceil((size - prefix.length - suffix.length) / itemLen));
  const total = prefix.length + suffix.length + count * itemLen - 1;
  return { prefix, suffix, item, count, total };
}

function sendHuge(res, kind, mode) {
  const size = mode.hugeBytes ?? 50 * 1024 * 1024;
  const withLength = mode.contentLength === true;
  const items = hugeItems(kind, size);
  const headers = { 'Content-Type': 'application/json' };
  if (items) {
    if (withLength) headers['Content-Length'] = items.total;
    res.writeHead(200, headers);
    let i = 0;
    const pump = () => {
      while (i < items.count) {
        if (res.destroyed) return;
        let batch = i === 0 ? items.prefix : '';
        const stop = Math.min(items.count, i + 512);
        for (; i < stop; i++) batch += (i === 0 ? '' : ',') + items.item(i);
        if (!res.write(batch)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end(items.suffix);
    };
    pump();
    return;
  }
  const prefix = '{"key":"huge","reason":"STATIC","variant":"on","metadata":{},"value":"';
  const suffix = '"}';
  const fill = Math.max(0, size - prefix.length - suffix.length);
  if (withLength) headers['Content-Length'] = prefix.length + fill + suffix.length;
  res.writeHead(200, headers);
  streamChunks(res, [Buffer.from(prefix)], fill, [Buffer.from(suffix)]);
}

function wrongTypeBody(kind, key) {
  switch (kind) {
    case 'ofrep-bulk': return { flags: 'not-an-array', metadata: {} };
    case 'ofrep-single': return { key, value: true, reason: 42, variant: ['x'] };
    case 'connect-all': return { flags: { f: { reason: 7, boolValue: 'yes', metadata: [] } }, metadata: {} };
    case 'connect-unary': return { value: { not: 'scalar' }, reason: false };
    case 'definitions': return { flags: 'nope' };
    default: return [1, 2, 3];
  }
}

function modeApplies(path) {
  const mode = state.mode;
  if (mode.mode === 'normal') return null;
  if (Array.isArray(mode.routes) && !mode.routes.some((p) => path.startsWith(p))) return null;
  if (Number.isInteger(mode.times)) {
    if (mode.times <= 0) return null;
    mode.times--;
    if (mode.times === 0) state.mode = { mode: 'normal' };
  }
  return mode;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Control API

function control(req, path, query, body) {
  const parsed = parseJsonBody(body);
  const json = parsed.ok ? parsed.value : undefined;
  const bad = (m) => jsonResponse(400, { error: m });
  const ok = (obj = {}) => jsonResponse(200, obj);

  if (path === '/_control/health' && req.method === 'GET') return ok({ ok: true });
  if (path === '/_control/stats' && req.method === 'GET') {
    return ok({ requests: state.requests, last: state.last, streams: streams.size, streamsOpened: state.streamsOpened });
  }
  if (path === '/_control/flags' && req.method === 'PUT') {
    const text = body.toString('utf8');
    if (query.get('raw') === '1') {
      state.definitionsText = text;
      return ok({ changed: {} });
    }
    let core;
    try {
      core = loadCore(text);
    } catch (err) {
      return bad(`flagd-core rejected the definitions: ${errorText(err)}`);
    }
    const changed = diffFlags(state.core, core);
    state.core = core;
    state.definitionsText = text;
    if (Object.keys(changed).length > 0) {
      const flags = {};
      for (const [k, t] of Object.entries(changed)) flags[k] = { type: t };
      for (const s of streams) s.send({ type: 'configuration_change', data: { flags } });
    }
    return ok({ changed });
  }
  if (req.method !== 'POST') return jsonResponse(404, { error: `no control route ${req.method} ${path}` });
  if (!parsed.ok) return bad(`invalid JSON: ${parsed.error}`);
  const args = isPlainObject(json) ? json : {};

  switch (path) {
    case '/_control/mode': {
      const modes = ['normal', 'down', 'status', 'garbage', 'slow', 'huge', 'wrongtype', 'truncate'];
      if (!modes.includes(args.mode)) return bad(`mode must be one of ${modes.join(', ')}`);
      if (args.routes !== undefined && !(Array.isArray(args.routes) && args.routes.every((r) => typeof r === 'string'))) {
        return bad('routes must be an array of path prefixes');
      }
      if (args.times !== undefined && !(Number.isInteger(args.times) && args.times > 0)) return bad('times must be a positive integer');
      if (args.status !== undefined && !(Number.isInteger(args.status) && args.status >= 200 && args.status <= 599)) {
        return bad('status must be an HTTP status');
      }
      state.mode = { ...args };
      return ok();
    }
    case '/_control/now':
      if (args.now === null) fixedNowMs = null;
      else if (typeof args.now === 'number' && Number.isFinite(args.now)) fixedNowMs = args.now * 1000;
      else return bad('now must be Unix seconds or null');
      return ok();
    case '/_control/keepalive':
      if (!(typeof args.ms === 'number' && args.ms > 0)) return bad('ms must be > 0');
      state.keepAliveMs = args.ms;
      for (const s of streams) s.armKeepAlive();
      return ok();
    case '/_control/auth':
      if (args.token !== null && typeof args.token !== 'string') return bad('token must be a string or null');
      state.authToken = args.token;
      return ok();
    case '/_control/stop-streams': {
      const all = [...streams];
      const endMessage = isPlainObject(args.error) ? { error: args.error, metadata: {} } : {};
      for (const s of all) {
        if (args.abrupt === true) s.destroy();
        else s.end(endMessage);
      }
      return ok({ stopped: all.length });
    }
    case '/_control/reset':
      state.mode = { mode: 'normal' };
      fixedNowMs = null;
      state.authToken = null;
      state.keepAliveMs = opts.keepAliveMs;
      state.requests = {};
      state.last = {};
      state.streamsOpened = 0;
      for (const s of streams) s.armKeepAlive();
      return ok();
    default:
      return jsonResponse(404, { error: `no control route ${req.method} ${path}` });
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatch

function record(req, path, body) {
  state.requests[path] = (state.requests[path] ?? 0) + 1;
  let recorded;
  if (routeKind(path) === 'connect-stream') recorded = decodeEnvelope(body);
  else {
    const parsed = parseJsonBody(body);
    recorded = parsed.ok && !parsed.empty ? parsed.value : body.toString('utf8');
  }
  state.last[path] = { method: req.method, headers: { ...req.headers }, body: recorded };
}

async function dispatch(req, res, body) {
  const url = new URL(req.url, 'http://test');
  let path;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return send(res, jsonResponse(400, { error: 'bad percent-encoding in path' }));
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);

  if (path.startsWith('/_control/')) {
    const r = control(req, path, url.searchParams, body);
    if (req.method !== 'GET') log(`control ${req.method} ${path}${url.search} -> ${r.status} ${r.status === 200 ? body.toString('utf8').slice(0, 200) : r.body}`);
    return send(res, r);
  }

  record(req, path, body);
  const kind = routeKind(path);
  const key = kind === 'ofrep-single' ? path.slice(OFREP_PREFIX.length + 1) : undefined;
  if (opts.verbose) log(`${req.method} ${path}`);

  if (state.authToken !== null && req.headers.authorization !== `Bearer ${state.authToken}`) {
    return send(res, jsonResponse(401, errorShape(kind, 401, 'unauthorized', key)));
  }

  const mode = modeApplies(path);
  if (mode) {
    switch (mode.mode) {
      case 'down':
        req.socket.destroy();
        return;
      case 'status': {
        const status = mode.status ?? 503;
        const headers = mode.retryAfter !== undefined ? { 'Retry-After': String(mode.retryAfter) } : {};
        return send(res, jsonResponse(status, errorShape(kind, status, `injected status ${status}`, key), headers));
      }
      case 'slow':
        await sleep(mode.delayMs ?? 5000);
        break;
      case 'garbage':
        if (kind === 'connect-stream') break;
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': GARBAGE.length });
        res.end(GARBAGE);
        return;
      case 'wrongtype':
        if (kind === 'connect-stream') break;
        return send(res, jsonResponse(200, wrongTypeBody(kind, key)));
      case 'huge':
        if (kind === 'connect-stream') break;
        return sendHuge(res, kind, mode);
      default:
        break;
    }
  }

  if (kind === 'connect-stream') {
    return handleEventStream(req, res, body, mode && mode.mode !== 'slow' ? mode : null);
  }

  let r;
  if (kind === 'ofrep-bulk' || kind === 'ofrep-single') {
    if (req.method !== 'POST') r = jsonResponse(405, errorShape(kind, 405, 'method not allowed', key));
    else r = kind === 'ofrep-bulk' ? handleOfrepBulk(req, body) : handleOfrepSingle(key, body);
  } else if (kind === 'connect-all' || kind === 'connect-unary') {
    if (req.method !== 'POST') r = jsonResponse(405, { code: 'unknown', message: 'method not allowed' });
    else r = handleConnectUnary(req, path, body);
  } else if (kind === 'definitions') {
    r = req.method === 'GET' ? handleDefinitions(req, path) : jsonResponse(405, { error: 'method not allowed' });
  } else {
    r = jsonResponse(404, { error: `no route ${req.method} ${path}` });
  }

  if (mode && mode.mode === 'truncate') {
    const full = Buffer.from(r.body ?? '', 'utf8');
    res.writeHead(r.status === 304 ? 200 : r.status, { ...r.headers, 'Content-Length': full.length + 1000 });
    res.write(full.subarray(0, Math.floor(full.length / 2)), () => req.socket.destroy());
    return;
  }
  send(res, r);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (c) => {
    if (tooLarge) return;
    size += c.length;
    if (size > MAX_BODY) {
      tooLarge = true;
      res.writeHead(413, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify({ error: 'request body too large' }), () => req.socket.destroy());
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (tooLarge) return;
    dispatch(req, res, Buffer.concat(chunks)).catch((err) => {
      log(`internal error: ${err.stack ?? err}`);
      if (!res.headersSent) send(res, jsonResponse(500, { error: String(err) }));
      else res.destroy();
    });
  });
});
server.requestTimeout = 0; // EventStreams and slow modes outlive node's default 300 s
server.keepAliveTimeout = 30000;

server.on('error', (err) => fail(`listen on ${opts.host}:${opts.port}: ${err.message}`, err.code === 'EADDRINUSE' ? 3 : 2));

server.listen({ port: opts.port, host: opts.host }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  log(`listening on ${opts.host}:${server.address().port}`);
});

let shuttingDown = false;
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`${signal}: closing ${streams.size} stream(s)`);
  for (const s of [...streams]) {
    s.send({ type: 'provider_shutdown', data: {} });
    s.end();
  }
  server.close();
  server.closeIdleConnections();
  // Give the end-stream envelopes a moment to leave, then go regardless of stragglers.
  setTimeout(() => process.exit(0), 100);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

if (opts.exitOnStdinEof) {
  process.stdin.on('end', () => shutdown('stdin EOF'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
