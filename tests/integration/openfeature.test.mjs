// Proof 8: a real OpenFeature client (@openfeature/server-sdk with @openfeature/ofrep-provider)
// resolves flags from the agent's loopback OFREP endpoint (--tcp 127.0.0.1:0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFeature, ErrorCode } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { startServer, startAgent, fixture, waitFor } from './lib.mjs';

const ATTRS = { tier: 'paying', region: 'eu-west' };

// The TCP port is announced in /v1/status (tcpPort) and in the start-up log line.
async function ofrepClient(t, agent, domain) {
  const st = await agent.status();
  assert.ok(Number.isInteger(st.tcpPort) && st.tcpPort > 0, `tcpPort in /v1/status: ${st.tcpPort}`);
  assert.equal(agent.tcpPort, st.tcpPort, 'the log line names the same port');
  await OpenFeature.setProviderAndWait(domain,
    new OFREPProvider({ baseUrl: `http://127.0.0.1:${st.tcpPort}` }));
  t.after(() => OpenFeature.clearProviders());
  return OpenFeature.getClient(domain);
}

async function checkTypes(client, ctx) {
  const b = await client.getBooleanDetails('bool-flag', false, ctx);
  assert.equal(b.value, true);
  assert.equal(b.variant, 'on');
  assert.equal(b.reason, 'TARGETING_MATCH');
  assert.equal(b.errorCode, undefined);

  const s = await client.getStringDetails('string-flag', 'fallback', ctx);
  assert.ok(['1.24.0', '1.26.2'].includes(s.value), s.value);
  assert.equal(s.errorCode, undefined);
  assert.equal(s.flagMetadata.owner, 'web');

  const n = await client.getNumberDetails('int-flag', 0, ctx);
  assert.equal(n.value, 1000);
  assert.equal(n.variant, 'large');
  const f = await client.getNumberValue('float-flag', 0, ctx);
  assert.equal(f, 0.25);

  const o = await client.getObjectDetails('object-flag', {}, ctx);
  assert.deepEqual(o.value, { level: 'info', sample: 1 });
  assert.equal(o.variant, 'full');

  const missing = await client.getBooleanDetails('no-such-flag', true, ctx);
  assert.equal(missing.value, true, 'the default');
  assert.equal(missing.errorCode, ErrorCode.FLAG_NOT_FOUND);
  assert.equal(missing.reason, 'ERROR');

  const wrongType = await client.getStringDetails('bool-flag', 'dflt', ctx);
  assert.equal(wrongType.value, 'dflt');
  assert.equal(wrongType.errorCode, ErrorCode.TYPE_MISMATCH);
}

for (const mode of ['ofrep', 'flagd']) {
  test(`OpenFeature OFREP provider against the agent (${mode} upstream)`, async (t) => {
    const srv = await startServer(t, fixture('flags.json'));
    const agent = await startAgent(t, {
      mode, url: srv.url, interval: '1s', attributes: ATTRS, tcp: '127.0.0.1:0',
    });
    await agent.waitFlags((b) => b.source === 'live');
    const client = await ofrepClient(t, agent, `agent-${mode}`);
    await checkTypes(client, { targetingKey: 'ignored-in-remote-modes' });
    // Remote modes answer with the host's own evaluation whatever the caller's context.
    assert.equal(await client.getBooleanValue('bool-flag', false, { tier: 'free' }), true);
  });
}

test('OpenFeature OFREP provider against a definitions-mode agent evaluates the caller context', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  const agent = await startAgent(t, {
    mode: 'definitions', url: `${srv.url}/flags.json`, interval: '1s', attributes: ATTRS, tcp: '127.0.0.1:0',
  });
  await agent.waitFlags((b) => b.source === 'live');
  const client = await ofrepClient(t, agent, 'agent-definitions');
  await checkTypes(client, {});
  // The caller's keys override the host's: same answers as flagd-core for the merged context.
  for (const ctx of [{ tier: 'free' }, { region: 'us-east', targetingKey: 'vm-7' }, { targetingKey: 'host-9' }]) {
    const merged = { ...(await agent.json('/v1/context')).context, ...ctx };
    const oracle = await srv.ofrepEvaluate(merged);
    for (const key of ['bool-flag', 'string-flag', 'int-flag', 'object-flag']) {
      const v = oracle[key].value;
      const typed = typeof v === 'boolean' ? await client.getBooleanDetails(key, !v, ctx)
        : typeof v === 'string' ? await client.getStringDetails(key, '', ctx)
          : typeof v === 'number' ? await client.getNumberDetails(key, -1, ctx)
            : await client.getObjectDetails(key, {}, ctx);
      assert.equal(typed.errorCode, undefined, `${key} for ${JSON.stringify(ctx)}`);
      assert.deepEqual(typed.value, oracle[key].value, `${key} for ${JSON.stringify(ctx)}`);
      assert.equal(typed.variant, oracle[key].variant, `${key} variant for ${JSON.stringify(ctx)}`);
    }
  }
});

test('OpenFeature OFREP provider: a not-ready agent gives defaults, then values once ready', async (t) => {
  const srv = await startServer(t, fixture('flags.json'));
  await srv.setMode({ mode: 'status', status: 503 });
  const agent = await startAgent(t, {
    mode: 'ofrep', url: srv.url, interval: '200ms', attributes: ATTRS, tcp: '127.0.0.1:0',
    yaml: 'sync:\n  backoff_base: 100ms\n  backoff_max: 300ms',
  });
  await agent.waitStatus((s) => s.lastError, { what: 'a failed sync' });
  const st = await agent.status();
  const provider = new OFREPProvider({ baseUrl: `http://127.0.0.1:${st.tcpPort}` });
  await OpenFeature.setProviderAndWait('agent-not-ready', provider);
  t.after(() => OpenFeature.clearProviders());
  const client = OpenFeature.getClient('agent-not-ready');
  const d = await client.getBooleanDetails('bool-flag', false, {});
  assert.equal(d.value, false, 'the default while the agent has nothing');
  assert.ok(d.errorCode, `an error code while not ready (got ${d.errorCode})`);
  await srv.reset();
  await agent.waitFlags((b) => b.source === 'live');
  await waitFor(async () => (await client.getBooleanValue('bool-flag', false, {})) === true,
    { what: 'the provider to see the value' });
});
