// A 3-hop HTTP chain routed by discovery: test client -> a -> svc-b -> svc-c. Hops call the next
// service by name (`http://svc-b/...`) through laneDispatcher; the lane travels by
// enablePropagation + laneMiddleware, with no lane code in the handlers.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { currentLane, enablePropagation, LANE_HEADER } from '@graylane/core';
import { createDiscovery, register, staticRegistry } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { laneMiddleware } from '@graylane/express';
import express from 'express';
import { request } from 'undici';
import { listen } from './helpers/listen';

interface Hop {
  readonly hop: string;
  readonly lane: string | null;
  readonly header: string | null;
  readonly next: Hop | null;
}

test('discovery chain: gray reaches b-gray and c-gray, untagged stays stable, a departed b-gray falls back to b-stable', async (t) => {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
  const registry = staticRegistry({ env: false });
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery });
  t.after(async () => {
    await dispatcher.close();
    await discovery.close();
    await registry.close();
  });

  async function hop(name: string, next: string | null): Promise<number> {
    const app = express();
    app.use(laneMiddleware());
    app.get('/work', async (req, res) => {
      let downstream: Hop | null = null;
      if (next !== null) {
        const reply = await request(`http://${next}/work`, { dispatcher });
        downstream = (await reply.body.json()) as Hop;
      }
      const header = req.headers[LANE_HEADER];
      res.json({
        hop: name,
        lane: currentLane() ?? null,
        header: typeof header === 'string' ? header : null,
        next: downstream,
      });
    });
    return listen(createServer(app), t);
  }

  const edge = await hop('a', 'svc-b');
  const handles = {
    bStable: await register(registry, {
      service: 'svc-b',
      host: '127.0.0.1',
      port: await hop('b-stable', 'svc-c'),
      lane: null,
    }),
    bGray: await register(registry, {
      service: 'svc-b',
      host: '127.0.0.1',
      port: await hop('b-gray', 'svc-c'),
      lane: 'gray',
    }),
    cStable: await register(registry, {
      service: 'svc-c',
      host: '127.0.0.1',
      port: await hop('c-stable', null),
      lane: null,
    }),
    cGray: await register(registry, {
      service: 'svc-c',
      host: '127.0.0.1',
      port: await hop('c-gray', null),
      lane: 'gray',
    }),
  };
  await discovery.ready('svc-b');
  await discovery.ready('svc-c');
  const loaded = () => discovery.instances('svc-b').length === 2 && discovery.instances('svc-c').length === 2;
  for (let i = 0; i < 100 && !loaded(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(loaded());

  async function send(lane?: string): Promise<Array<[string, string | null, string | null]>> {
    const res = await request(`http://127.0.0.1:${edge}/work`, {
      headers: lane === undefined ? {} : { [LANE_HEADER]: lane },
    });
    const path: Array<[string, string | null, string | null]> = [];
    for (let h: Hop | null = (await res.body.json()) as Hop; h !== null; h = h.next)
      path.push([h.hop, h.lane, h.header]);
    return path;
  }

  for (let i = 0; i < 20; i++) {
    assert.deepEqual(await send('gray'), [
      ['a', 'gray', 'gray'],
      ['b-gray', 'gray', 'gray'],
      ['c-gray', 'gray', 'gray'],
    ]);
    assert.deepEqual(await send(), [
      ['a', null, null],
      ['b-stable', null, null],
      ['c-stable', null, null],
    ]);
  }

  await handles.bGray.close();
  for (let i = 0; i < 100 && discovery.instances('svc-b').length !== 1; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (let i = 0; i < 10; i++) {
    // b has no gray instance any more: b-stable serves, still carrying the lane, so c-gray gets it again.
    assert.deepEqual(await send('gray'), [
      ['a', 'gray', 'gray'],
      ['b-stable', 'gray', 'gray'],
      ['c-gray', 'gray', 'gray'],
    ]);
    assert.deepEqual(await send(), [
      ['a', null, null],
      ['b-stable', null, null],
      ['c-stable', null, null],
    ]);
  }
  const fallbacks = discovery.snapshot().services['svc-b']!.counters.fallbacks;
  assert.deepEqual(fallbacks, [{ from: 'gray', to: null, picks: 10, fallback: true, reason: 'no-instance' }]);
});
