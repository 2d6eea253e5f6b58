import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enablePropagation } from '@graylane/core';
import { type HopReport, startChain } from './helpers/chain';
import { globalFetchClient, httpRequestClient, undiciRequestClient } from './helpers/clients';

// Headers listed in laneMiddleware({ carry }) travel the chain like the lane.

type Carried = HopReport & { readonly 'x-user-id': string | null; readonly 'x-request-id': string | null };

function carriedAt(report: HopReport, key: 'x-user-id' | 'x-request-id'): Array<string | null> {
  const out: Array<string | null> = [];
  for (let hop: HopReport | null = report; hop !== null; hop = hop.next) out.push((hop as Carried)[key]);
  return out;
}

for (const [name, client] of [
  ['global fetch', globalFetchClient],
  ['undici request', undiciRequestClient],
  ['http.request', httpRequestClient],
] as const) {
  test(`${name}: carried headers reach the last hop, in a lane and in the base lane`, async (t) => {
    const propagation = enablePropagation();
    t.after(() => propagation.disable());
    const chain = await startChain(t, {
      client,
      middleware: { carry: ['x-user-id', 'x-request-id'] },
      report: ['x-user-id', 'x-request-id'],
    });
    let report = await chain.send({ 'x-mse-tag': 'gray', 'x-user-id': '42', 'x-request-id': 'r-1' });
    assert.deepEqual(carriedAt(report, 'x-user-id'), ['42', '42', '42']);
    assert.deepEqual(carriedAt(report, 'x-request-id'), ['r-1', 'r-1', 'r-1']);
    report = await chain.send({ 'x-user-id': '7' });
    assert.deepEqual(carriedAt(report, 'x-user-id'), ['7', '7', '7']);
    assert.deepEqual(carriedAt(report, 'x-request-id'), [null, null, null]);
    // A huge value is not carried past the edge; the other header still is.
    const huge = 'u'.repeat(5000);
    report = await chain.send({ 'x-mse-tag': 'gray', 'x-user-id': huge, 'x-request-id': 'r-2' });
    assert.deepEqual(carriedAt(report, 'x-user-id'), [huge, null, null]);
    assert.deepEqual(carriedAt(report, 'x-request-id'), ['r-2', 'r-2', 'r-2']);
    propagation.disable();
    report = await chain.send({ 'x-mse-tag': 'gray', 'x-user-id': '42' });
    assert.deepEqual(carriedAt(report, 'x-user-id'), ['42', null, null], 'after disable(): nothing carried');
  });
}
