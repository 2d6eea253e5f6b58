import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { enablePropagation, propagationCounters, withLane } from '@graylane/core';
import express4 from 'express4';
import { Agent, getGlobalDispatcher, Pool, setGlobalDispatcher } from 'undici';
import type { ExpressFactory } from './helpers/chain';
import { checkAutomaticClient, laneEchoServer } from './helpers/chain-cases';
import { globalFetchClient, undiciFetchClient, undiciRequestClient } from './helpers/clients';

// undici and Node's global fetch are tagged by laneInterceptor, which enablePropagation() composes
// onto undici's global dispatcher. Dispatchers constructed and passed explicitly need
// laneInterceptor() themselves (chain-interceptor.test.ts); without it they are refused loudly.

test('undici request: lane across a 3-hop chain, none when untagged/invalid, explicit kept, disable()', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: undiciRequestClient }));

test('undici fetch: the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: undiciFetchClient }));

test('global fetch, hops on Express 4: the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, {
    client: globalFetchClient,
    express: express4 as ExpressFactory,
  }));

test('global fetch (Node-bundled undici): the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: globalFetchClient }));

// A Pool with a connection limit queues requests and creates them later from another request's
// socket callback; no public undici API says whose they are then. Without laneInterceptor() the
// automatic mode never writes a lane onto them — not a wrong one, not onto untagged ones — and
// counts them. (The process-wide one-time warning is checked in isolation-undici.test.ts.)
test('undici Pool with connections: 1 and no laneInterceptor(): lanes are refused, never wrong', async (t) => {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
  const { origin } = await laneEchoServer(t, 5);
  const pool = new Pool(origin, { connections: 1 });
  t.after(() => pool.close());
  const before = propagationCounters().unintercepted;
  const lanes = ['gray', undefined, 'blue', undefined, 'feature-x', 'gray', undefined, 'v2'];
  const results = await Promise.all(
    lanes.map((lane, i) =>
      withLane(lane, async () => {
        await sleep(i % 3);
        return (await pool.request({ path: '/', method: 'GET' })).body.text();
      }),
    ),
  );
  assert.deepEqual(
    results,
    lanes.map(() => ''),
  );
  // Counted by the context a request was created in, which for queued ones is another request's.
  assert.ok(propagationCounters().unintercepted > before);
});

// setGlobalDispatcher() before enablePropagation() is the documented order; a later replacement
// is noticed at its first request, composed again, and reported once.
test('a global dispatcher set after enablePropagation() is composed again at its first request', async (t) => {
  const original = getGlobalDispatcher();
  const propagation = enablePropagation();
  const agent = new Agent({ connections: 2 });
  t.after(async () => {
    propagation.disable();
    setGlobalDispatcher(original);
    await agent.close();
  });
  const { origin } = await laneEchoServer(t);
  setGlobalDispatcher(agent);
  // The first request went through the new dispatcher alone: refused, not mis-tagged.
  const first = await withLane('gray', async () => (await fetch(`${origin}/`)).text());
  assert.equal(first, '');
  assert.notEqual(getGlobalDispatcher(), agent, 'composed again');
  const second = await withLane('gray', async () => (await fetch(`${origin}/`)).text());
  assert.equal(second, 'gray');
  propagation.disable();
  assert.equal(getGlobalDispatcher(), agent, 'disable() puts back the dispatcher it composed onto');
});
