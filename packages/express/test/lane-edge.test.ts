import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, InvalidOptionError, ingressCounters, resetIngressCounters } from '@graylane/core';
import { laneEdge } from '@graylane/express';
import type { EdgeDecisionMessage } from '@graylane/rules';
import { compileRules, InvalidRuleError, type Rule, rulesFromKruiseTrafficRouting } from '@graylane/rules';
import express5 from 'express';
import express4 from 'express4';
import { listen } from '../../../test/helpers/listen';

const kruise = rulesFromKruiseTrafficRouting({
  spec: {
    strategy: {
      matches: [{ headers: [{ type: 'Exact', name: 'User-Agent', value: 'foo' }] }],
      requestHeaderModifier: { set: [{ name: 'x-mse-tag', value: 'gray' }] },
    },
  },
});

interface Seen {
  lane: string | undefined;
  afterAwait: string | undefined;
  tag: string | undefined;
  baggage: string | undefined;
  headers: IncomingHttpHeaders;
}

type Express = typeof express5;

async function edgeServer(
  t: import('node:test').TestContext,
  make: Express,
  options: Parameters<typeof laneEdge>[0],
): Promise<string> {
  const app = make();
  app.use(laneEdge(options));
  app.use(async (req: import('express').Request, res: import('express').Response) => {
    const lane = currentLane();
    await sleep(1);
    const seen: Seen = {
      lane,
      afterAwait: currentLane(),
      tag: req.headers['x-mse-tag'] as string | undefined,
      baggage: req.headers.baggage as string | undefined,
      headers: req.headers,
    };
    res.json(seen);
  });
  const server = createServer(app);
  const port = await listen(server, t);
  return `http://127.0.0.1:${port}`;
}

async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await fetch(`${base}${path}`, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as Seen;
}

for (const [name, make] of [
  ['express 5', express5],
  ['express 4', express4 as unknown as Express],
] as const) {
  test(`${name}: rules decide the lane, set headers, and the handler runs in the lane`, async (t) => {
    const base = await edgeServer(t, make, { rules: kruise });
    const gray = await get(base, '/a', { 'user-agent': 'foo' });
    assert.equal(gray.lane, 'gray');
    assert.equal(gray.afterAwait, 'gray', 'the lane survives awaits in the handler');
    assert.equal(gray.tag, 'gray', 'requestHeaderModifier set x-mse-tag on req.headers');
    const other = await get(base, '/a', { 'user-agent': 'bar' });
    assert.equal(other.lane, undefined);
    assert.equal(other.tag, undefined);
  });
}

test('trust strip (the default): a client tag never walks into a lane; rules still decide', async (t) => {
  const base = await edgeServer(t, express5, { rules: kruise });
  const forged = await get(base, '/', {
    'x-mse-tag': 'unreleased',
    baggage: 'userId=7,x-mse-tag=unreleased',
  });
  assert.equal(forged.lane, undefined);
  assert.equal(forged.tag, undefined, 'the forged header was removed');
  assert.equal(forged.baggage, 'userId=7', 'the forged baggage entry was removed, the rest kept');
  const ruled = await get(base, '/', { 'x-mse-tag': 'unreleased', 'user-agent': 'foo' });
  assert.equal(ruled.lane, 'gray');
  assert.equal(ruled.tag, 'gray');
});

test('trust accept: a valid client tag wins over the rules; an invalid one is stripped', async (t) => {
  const base = await edgeServer(t, express5, { rules: kruise, trust: 'accept' });
  const kept = await get(base, '/', { 'x-mse-tag': 'blue', 'user-agent': 'foo' });
  assert.equal(kept.lane, 'blue');
  assert.equal(kept.tag, 'blue');
  const fromBaggage = await get(base, '/', { baggage: 'x-mse-tag=blue' });
  assert.equal(fromBaggage.lane, 'blue');
  assert.equal(fromBaggage.tag, 'blue', 'the lane header is written for proxies');
  const invalid = await get(base, '/', { 'x-mse-tag': '-not-a-lane-', 'user-agent': 'foo' });
  assert.equal(invalid.lane, 'gray', 'an invalid tag is ignored; the rules decide');
  assert.equal(invalid.tag, 'gray');
});

test('trust allowlist: listed lanes are kept, others stripped', async (t) => {
  const base = await edgeServer(t, express5, { rules: kruise, trust: { allowlist: ['qa'] } });
  assert.equal((await get(base, '/', { 'x-mse-tag': 'qa' })).lane, 'qa');
  const other = await get(base, '/', { 'x-mse-tag': 'gray-internal' });
  assert.equal(other.lane, undefined);
  assert.equal(other.tag, undefined);
});

test('setHeaders, addHeaders and removeHeaders change req.headers; a proxy re-sending them carries the lane', async (t) => {
  const upstream = createServer((req, res) => res.end(JSON.stringify(req.headers)));
  const upstreamPort = await listen(upstream, t);
  const rules: Rule[] = [
    {
      lane: 'gray',
      matches: [{ path: { type: 'Prefix', value: '/proxy' } }],
      setHeaders: { 'x-env': 'canary' },
      addHeaders: { 'x-trace': 'edge' },
      removeHeaders: ['x-debug'],
    },
  ];
  const app = express5();
  app.use(laneEdge({ rules }));
  // A minimal proxy: forwards req.headers as they are after the edge.
  app.use((req, res) => {
    const out = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers: req.headers },
      (up) => up.pipe(res),
    );
    out.end();
  });
  const port = await listen(createServer(app), t);
  const res = await fetch(`http://127.0.0.1:${port}/proxy/x`, {
    headers: { 'x-trace': 'client', 'x-debug': '1', 'x-mse-tag': 'forged' },
  });
  const forwarded = (await res.json()) as IncomingHttpHeaders;
  assert.equal(forwarded['x-mse-tag'], 'gray');
  assert.equal(forwarded['x-env'], 'canary');
  assert.equal(forwarded['x-trace'], 'client, edge');
  assert.equal(forwarded['x-debug'], undefined);
});

test('decisions are counted at ingress and published on graylane:edge:decision', async (t) => {
  resetIngressCounters();
  const messages: EdgeDecisionMessage[] = [];
  const onMessage = (message: unknown) => messages.push(message as EdgeDecisionMessage);
  diagnosticsChannel.subscribe('graylane:edge:decision', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:edge:decision', onMessage));
  const base = await edgeServer(t, express5, { rules: kruise, trust: { allowlist: ['qa'] } });
  await get(base, '/', { 'user-agent': 'foo' });
  await get(base, '/', { 'x-mse-tag': 'qa' });
  await get(base, '/', {});
  assert.deepEqual(messages, [
    { lane: 'gray', rule: 0, name: 'kruise canary', source: 'rule', version: 1 },
    { lane: 'qa', rule: -1, name: undefined, source: 'client', version: 1 },
  ]);
  const counted = ingressCounters().requests;
  assert.equal(counted.gray, 1);
  assert.equal(counted.qa, 1);
  assert.equal(counted['(base)'], 1);
});

test('bad requests never throw: huge headers, malformed cookies, bad percent-encoding', async (t) => {
  const rules = compileRules([
    { lane: 'a', matches: [{ headers: [{ name: 'x-big', type: 'RegularExpression', value: '(a+)+b' }] }] },
    { lane: 'b', matches: [{ cookies: [{ name: 'k', value: 'v' }] }] },
    { lane: 'c', matches: [{ queryParams: [{ name: 'q', value: 'v' }] }] },
    { lane: 'd', weight: 50, sticky: { cookie: 'uid' } },
  ]);
  const base = await edgeServer(t, express5, { rules });
  await get(base, '/', { 'x-big': 'a'.repeat(12_000) });
  await get(base, '/', { cookie: ';;=;k;=v;uid' });
  const seen = await get(base, '/x?q=%zz&q=%E0%A4%A&%=%', {});
  assert.ok(seen.lane === undefined || seen.lane === 'd');
  assert.ok(rules.counters().malformedInputs >= 3);
  assert.ok(rules.counters().oversizeInputs >= 1);
});

test('setup mistakes fail at once with typed errors', () => {
  assert.throws(() => laneEdge({ rules: [{ lane: 'a', weight: 200 }] }), InvalidRuleError);
  assert.throws(() => laneEdge({ rules: [], trust: 'sometimes' as never }), InvalidOptionError);
  assert.throws(
    () => laneEdge({ rules: [{ lane: 'gray', setHeaders: { 'X-Mse-Tag': 'blue' } }] }),
    (err: unknown) => err instanceof InvalidOptionError && err.path === 'rules[0].setHeaders.X-Mse-Tag',
  );
  assert.throws(
    () => laneEdge({ rules: [{ lane: 'gray', removeHeaders: ['x-mse-tag'] }] }),
    InvalidOptionError,
  );
  assert.throws(() => laneEdge(null as never), InvalidOptionError);
  assert.doesNotThrow(() => laneEdge({ rules: compileRules(kruise) }), 'a compiled rule set is accepted');
});

test('a query inside the fragment is no query: the edge and Express agree', async (t) => {
  const app = express5();
  app.use(
    laneEdge({ rules: [{ lane: 'gray', matches: [{ queryParams: [{ name: 'lane', value: 'gray' }] }] }] }),
  );
  app.use((req: import('express').Request, res: import('express').Response) => {
    res.json({ lane: currentLane() ?? null, query: req.query, path: req.path });
  });
  const port = await listen(createServer(app), t);
  const ask = (path: string) =>
    new Promise<{ lane: string | null; query: Record<string, string>; path: string }>((resolve, reject) => {
      const out = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(JSON.parse(body)));
      });
      out.on('error', reject);
      out.end();
    });
  assert.deepEqual(await ask('/y#?lane=gray'), { lane: null, query: {}, path: '/y' });
  assert.deepEqual(await ask('/y?a=1#?lane=gray'), { lane: null, query: { a: '1' }, path: '/y' });
  assert.deepEqual(await ask('/y?lane=gray#x'), { lane: 'gray', query: { lane: 'gray' }, path: '/y' });
});
