import { test } from 'node:test';
import { enablePropagation } from '@graylane/core';
import express4 from 'express4';
import { Pool } from 'undici';
import type { ExpressFactory } from './helpers/chain';
import { checkAutomaticClient, checkQueuedLanes, laneEchoServer } from './helpers/chain-cases';
import {
  agentClient,
  globalFetchClient,
  poolClient,
  undiciFetchClient,
  undiciRequestClient,
} from './helpers/clients';

// undici and Node's global fetch are tagged through the `undici:request:create` channel.

test('undici request: lane across a 3-hop chain, none when untagged/invalid, explicit kept, disable()', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: undiciRequestClient }));

test('undici fetch: the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: undiciFetchClient }));

test('undici Pool: the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: poolClient(t) }));

test('undici Agent: the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: agentClient(t) }));

test('global fetch, hops on Express 4: the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, {
    client: globalFetchClient,
    express: express4 as ExpressFactory,
  }));

test('global fetch (Node-bundled undici): the same contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: globalFetchClient }));

// A Pool with a connection limit queues requests and creates them later from another request's
// socket callback. The hook reads the lane in the scope of undici's own request handler (created
// in the caller's context), so queued requests keep their lane and base requests stay untagged.
test('undici Pool with connections: 1: every queued request keeps its own lane (automatic hook)', async (t) => {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
  const { origin } = await laneEchoServer(t, 5);
  const pool = new Pool(origin, { connections: 1 });
  t.after(() => pool.close());
  await checkQueuedLanes(pool, ['gray', undefined, 'blue', undefined, 'feature-x', 'gray', undefined, 'v2']);
});
