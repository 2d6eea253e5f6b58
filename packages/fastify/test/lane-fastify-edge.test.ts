import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, InvalidOptionError, ingressCounters, resetIngressCounters } from '@graylane/core';
import { type LaneFastifyEdgeOptions, laneFastifyEdge } from '@graylane/fastify';
import {
  compileRules,
  type EdgeDecisionMessage,
  InvalidRuleError,
  type Rule,
  rulesFromKruiseTrafficRouting,
} from '@graylane/rules';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';

const kruise = rulesFromKruiseTrafficRouting({
  spec: {
    strategy: {
      matches: [{ headers: [{ type: 'Exact', name: 'User-Agent', value: 'foo' }] }],
      requestHeaderModifier: { set: [{ name: 'x-mse-tag', value: 'gray' }] },
    },
  },
});

interface Seen {
  lane?: string;
  afterAwait?: string;
  tag?: string;
  baggage?: string;
  headers: IncomingHttpHeaders;
}

type Factory = typeof fastify5;

async function edgeServer(
  t: TestContext,
  options: LaneFastifyEdgeOptions,
  make: Factory = fastify5,
): Promise<string> {
  const app = make();
  app.register(laneFastifyEdge(options));
  app.all('/*', async (request) => {
    const lane = currentLane();
    await sleep(1);
    const seen: Seen = {
      lane,
      afterAwait: currentLane(),
      tag: request.headers['x-mse-tag'] as string | undefined,
      baggage: request.headers.baggage as string | undefined,
      headers: request.headers,
    };
    return seen;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await fetch(`${base}${path}`, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as Seen;
}

for (const [name, make] of [
  ['fastify 5', fastify5],
  ['fastify 4', fastify4 as unknown as Factory],
] as const) {
  test(`${name}: rules decide the lane, set headers, and the handler runs in the lane`, async (t) => {
    const base = await edgeServer(t, { rules: kruise }, make);
    const gray = await get(base, '/a', { 'user-agent': 'foo' });
    assert.equal(gray.lane, 'gray');
    assert.equal(gray.afterAwait, 'gray');
    assert.equal(gray.tag, 'gray', 'requestHeaderModifier set x-mse-tag on the request headers');
    const other = await get(base, '/a', { 'user-agent': 'bar' });
    assert.equal(other.lane, undefined);
    assert.equal(other.tag, undefined);
  });
}

test('trust strip (the default): a client tag never walks into a lane; rules still decide', async (t) => {
  const base = await edgeServer(t, { rules: kruise });
  const forged = await get(base, '/', {
    'x-mse-tag': 'unreleased',
    baggage: 'userId=7,x-mse-tag=unreleased',
  });
  assert.equal(forged.lane, undefined);
  assert.equal(forged.tag, undefined);
  assert.equal(forged.baggage, 'userId=7');
  const ruled = await get(base, '/', { 'x-mse-tag': 'unreleased', 'user-agent': 'foo' });
  assert.equal(ruled.lane, 'gray');
  assert.equal(ruled.tag, 'gray');
});

test('trust accept and allowlist', async (t) => {
  const accept = await edgeServer(t, { rules: kruise, trust: 'accept' });
  assert.equal((await get(accept, '/', { 'x-mse-tag': 'blue', 'user-agent': 'foo' })).lane, 'blue');
  const fromBaggage = await get(accept, '/', { baggage: 'x-mse-tag=blue' });
  assert.deepEqual([fromBaggage.lane, fromBaggage.tag], ['blue', 'blue']);
  const invalid = await get(accept, '/', { 'x-mse-tag': '-not-a-lane-', 'user-agent': 'foo' });
  assert.deepEqual([invalid.lane, invalid.tag], ['gray', 'gray']);
  const allow = await edgeServer(t, { rules: kruise, trust: { allowlist: ['qa'] } });
  assert.equal((await get(allow, '/', { 'x-mse-tag': 'qa' })).lane, 'qa');
  const other = await get(allow, '/', { 'x-mse-tag': 'gray-internal' });
  assert.deepEqual([other.lane, other.tag], [undefined, undefined]);
});

test('setHeaders, addHeaders and removeHeaders change the request headers', async (t) => {
  const rules: Rule[] = [
    {
      lane: 'gray',
      matches: [{ path: { type: 'Prefix', value: '/proxy' } }],
      setHeaders: { 'x-env': 'canary' },
      addHeaders: { 'x-trace': 'edge' },
      removeHeaders: ['x-debug'],
    },
  ];
  const base = await edgeServer(t, { rules });
  const seen = await get(base, '/proxy/x', { 'x-trace': 'client', 'x-debug': '1', 'x-mse-tag': 'forged' });
  assert.equal(seen.lane, 'gray');
  assert.equal(seen.headers['x-mse-tag'], 'gray');
  assert.equal(seen.headers['x-env'], 'canary');
  assert.equal(seen.headers['x-trace'], 'client, edge');
  assert.equal(seen.headers['x-debug'], undefined);
});

test('decisions are counted at ingress and published on graylane:edge:decision; bad input never throws', async (t) => {
  resetIngressCounters();
  const messages: EdgeDecisionMessage[] = [];
  const onMessage = (message: unknown) => messages.push(message as EdgeDecisionMessage);
  diagnosticsChannel.subscribe('graylane:edge:decision', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:edge:decision', onMessage));
  const base = await edgeServer(t, { rules: kruise, trust: { allowlist: ['qa'] } });
  await get(base, '/', { 'user-agent': 'foo' });
  await get(base, '/', { 'x-mse-tag': 'qa' });
  await get(base, '/', {});
  assert.deepEqual(messages, [
    { lane: 'gray', rule: 0, name: 'kruise canary', source: 'rule', version: 1 },
    { lane: 'qa', rule: -1, name: undefined, source: 'client', version: 1 },
  ]);
  const counted = ingressCounters().requests;
  assert.deepEqual([counted.gray, counted.qa, counted['(base)']], [1, 1, 1]);
  const rules = compileRules([
    { lane: 'a', matches: [{ headers: [{ name: 'x-big', type: 'RegularExpression', value: '(a+)+b' }] }] },
    { lane: 'b', matches: [{ cookies: [{ name: 'k', value: 'v' }] }] },
    { lane: 'c', matches: [{ queryParams: [{ name: 'q', value: 'v' }] }] },
  ]);
  const bad = await edgeServer(t, { rules });
  await get(bad, '/', { 'x-big': 'a'.repeat(12_000) });
  await get(bad, '/', { cookie: ';;=;k;=v;uid' });
  assert.equal((await get(bad, '/x?q=%zz&q=%E0%A4%A&%=%', {})).lane, undefined);
  assert.ok(rules.counters().malformedInputs >= 2);
});

test('laneFastifyEdge: setup mistakes fail at once with typed errors', () => {
  assert.throws(() => laneFastifyEdge({ rules: [{ lane: 'a', weight: 200 }] }), InvalidRuleError);
  assert.throws(() => laneFastifyEdge({ rules: [], trust: 'sometimes' as never }), InvalidOptionError);
  assert.throws(
    () => laneFastifyEdge({ rules: [{ lane: 'gray', setHeaders: { 'X-Mse-Tag': 'blue' } }] }),
    (err: unknown) => err instanceof InvalidOptionError && err.path === 'rules[0].setHeaders.X-Mse-Tag',
  );
  assert.throws(
    () => laneFastifyEdge({ rules: [{ lane: 'gray', removeHeaders: ['x-mse-tag'] }] }),
    InvalidOptionError,
  );
  assert.throws(() => laneFastifyEdge(null as never), InvalidOptionError);
  assert.doesNotThrow(() => laneFastifyEdge({ rules: compileRules(kruise) }));
});
