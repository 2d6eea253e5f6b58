// Isolation under load: thousands of concurrent requests in mixed lanes through a 3-hop chain,
// every handler awaiting timers and I/O before its outbound call; not one request may arrive at
// the last hop in another request's lane.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { enablePropagation, laneInterceptor, withLane } from '@graylane/core';
import { type Dispatcher, Pool } from 'undici';
import { type HopClient, type HopReport, startChain } from './helpers/chain';
import { globalFetchClient, undiciRequestClient } from './helpers/clients';
import { readBody } from './helpers/http-call';

const TOTAL = 5_000;
const CONCURRENCY = 100;
/** Give up (and fail) past this, so a hang cannot stall the suite. Not a speed assertion. */
const DEADLINE_MS = 100_000; // below the runner's --test-timeout (120 s)

/** One request of the mix: what the driver sends and what every hop must see. */
interface Case {
  readonly header: string | undefined; // sent by the driver as x-mse-tag
  readonly ambient: string | undefined; // or: the driver calls from inside this lane (automatic tag)
  readonly expected: string | null; // the lane each hop must see
}

const MIX: readonly Case[] = [
  { header: 'gray', ambient: undefined, expected: 'gray' },
  { header: undefined, ambient: 'blue', expected: 'blue' },
  { header: 'feature-x', ambient: undefined, expected: 'feature-x' },
  { header: undefined, ambient: undefined, expected: null },
  { header: '-invalid', ambient: undefined, expected: null },
  { header: undefined, ambient: 'gray', expected: 'gray' },
  { header: 'x'.repeat(200), ambient: undefined, expected: null },
  { header: 'v1.2_3', ambient: undefined, expected: 'v1.2_3' },
];

test(`isolation: ${TOTAL} requests at concurrency ${CONCURRENCY}, mixed lanes, zero mismatches`, async (t) => {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());

  // The hops call each other with a rotation of clients, one of them a Pool with a connection
  // limit (requests queue and are created from other requests' socket callbacks).
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  t.after(() => keepAlive.destroy());
  const pools = new Map<string, Pool>();
  const composed = new Map<string, Dispatcher>();
  t.after(() => Promise.all([...pools.values()].map((p) => p.close())));
  const httpClient: HopClient = (url, headers) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(url, { headers, agent: keepAlive }, (res) => {
        readBody(res).then(resolve, reject);
      });
      req.on('error', reject);
      req.end();
    });
  const boundedPoolClient: HopClient = async (url, headers) => {
    const u = new URL(url);
    let dispatcher = composed.get(u.origin);
    if (dispatcher === undefined) {
      const pool = new Pool(u.origin, { connections: 8 });
      pools.set(u.origin, pool);
      // A dispatcher the service constructs itself: composed with laneInterceptor(), the supported
      // form (the automatic mode reaches only the global dispatcher).
      dispatcher = pool.compose(laneInterceptor());
      composed.set(u.origin, dispatcher);
    }
    const { body } = await dispatcher.request({ path: u.pathname, method: 'GET', headers });
    return body.text();
  };
  const rotation: readonly HopClient[] = [
    undiciRequestClient,
    globalFetchClient,
    httpClient,
    boundedPoolClient,
  ];
  let turn = 0;
  const client: HopClient = (url, headers) => rotation[turn++ % rotation.length]!(url, headers);

  const chain = await startChain(t, {
    client,
    // Await a timer and real I/O before every outbound call.
    beforeCall: async () => {
      await sleep(Math.floor(Math.random() * 3));
      await stat(__filename);
    },
  });

  const driverPool = new Pool(new URL(chain.url).origin, { connections: CONCURRENCY });
  t.after(() => driverPool.close());
  // Cases with an ambient lane rely on the driver's own propagation: an explicit Pool, so composed.
  const driver = driverPool.compose(laneInterceptor());
  const send = async (c: Case): Promise<HopReport> => {
    const call = () =>
      driver.request({
        path: '/',
        method: 'GET',
        headers: c.header === undefined ? {} : { 'x-mse-tag': c.header },
      });
    const res = c.ambient === undefined ? await call() : await withLane(c.ambient, call);
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${body}`);
    return JSON.parse(body) as HopReport;
  };

  const deadline = Date.now() + DEADLINE_MS;
  let next = 0;
  let completed = 0;
  const mismatches: string[] = [];
  const perLane = new Map<string, number>();
  const failures: string[] = [];
  async function worker(): Promise<void> {
    while (next < TOTAL && Date.now() < deadline) {
      const i = next++;
      const c = MIX[i % MIX.length]!;
      let report: HopReport;
      try {
        report = await send(c);
      } catch (error) {
        failures.push(`#${i}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      for (let hop: HopReport | null = report; hop !== null; hop = hop.next) {
        const wantHeader = hop === report ? (c.header ?? c.ambient ?? null) : c.expected;
        if (hop.lane !== c.expected || hop.header !== wantHeader) {
          mismatches.push(`#${i} ${hop.hop}: lane ${hop.lane} header ${hop.header}, want ${c.expected}`);
        }
      }
      const key = c.expected ?? '(base)';
      perLane.set(key, (perLane.get(key) ?? 0) + 1);
      completed++;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests failed`);
  assert.equal(completed, TOTAL, `only ${completed}/${TOTAL} requests completed before the deadline`);
  assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} mismatches`);
  // The mix really was mixed.
  assert.deepEqual([...perLane.keys()].sort(), ['(base)', 'blue', 'feature-x', 'gray', 'v1.2_3']);
});
