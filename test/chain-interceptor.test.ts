import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLaneContext,
  enablePropagation,
  laneInterceptor,
  withLane,
  withLaneContext,
} from '@graylane/core';
import { Agent, Pool, request, fetch as undiciFetch } from 'undici';
import { checkExplicitClient, checkQueuedLanes, laneEchoServer } from './helpers/chain-cases';
import { dispatcherClient } from './helpers/clients';

// laneInterceptor: the explicit undici form for Dispatcher.compose. No enablePropagation here
// unless a test says so.

test('laneInterceptor on an Agent (Dispatcher.compose) delivers the lane without enablePropagation', (t) =>
  checkExplicitClient(t, { client: dispatcherClient(t, new Agent().compose(laneInterceptor())) }));

test('laneInterceptor with undici fetch and request({ dispatcher })', async (t) => {
  const dispatcher = new Agent().compose(laneInterceptor());
  t.after(() => dispatcher.close());
  await checkExplicitClient(t, {
    client: async (url, headers) => (await undiciFetch(url, { headers, dispatcher })).text(),
  });
  await checkExplicitClient(t, {
    client: async (url, headers) => (await request(url, { headers, dispatcher })).body.text(),
  });
});

test('laneInterceptor: every header shape, explicit header kept, caller options untouched', async (t) => {
  const { seen, origin } = await laneEchoServer(t);
  const dispatcher = new Agent().compose(laneInterceptor());
  t.after(() => dispatcher.close());
  const shapes: Array<[string, unknown]> = [
    ['none', undefined],
    ['record', { accept: 'text/plain' }],
    ['flat array', ['accept', 'text/plain']],
    ['iterable', new Map([['accept', 'text/plain']])],
  ];
  for (const [name, headers] of shapes) {
    const opts = { origin, path: '/', method: 'GET' as const, headers: headers as Record<string, string> };
    const before = JSON.stringify(headers instanceof Map ? [...headers] : headers);
    const res = await withLane('gray', () => dispatcher.request(opts));
    await res.body.text();
    assert.equal(seen.at(-1)!['x-mse-tag'], 'gray', name);
    if (headers !== undefined) assert.equal(seen.at(-1)!.accept, 'text/plain', name);
    assert.equal(
      JSON.stringify(headers instanceof Map ? [...headers] : headers),
      before,
      `${name} not mutated`,
    );
  }
  for (const headers of [{ 'X-MSE-TAG': 'blue' }, ['X-Mse-Tag', 'blue']]) {
    const res = await withLane('gray', () =>
      dispatcher.request({ origin, path: '/', method: 'GET', headers: headers as Record<string, string> }),
    );
    await res.body.text();
    assert.equal(seen.at(-1)!['x-mse-tag'], 'blue');
  }
  const res = await dispatcher.request({ origin, path: '/', method: 'GET' });
  await res.body.text();
  assert.equal(seen.at(-1)!['x-mse-tag'], undefined, 'no lane, no header');
});

test('laneInterceptor writes carried headers; oversize or invalid carried values are not forwarded', async (t) => {
  const { seen, origin } = await laneEchoServer(t);
  const dispatcher = new Agent().compose(laneInterceptor({ header: 'x-lane' }));
  t.after(() => dispatcher.close());
  const context = createLaneContext('gray', [
    ['x-user-id', '42'],
    ['x-huge', 'v'.repeat(5000)],
    ['x-bad', 'a\u0000b'],
    ['x-wide', 'caf\u00e9\u4e2d'],
  ]);
  const res = await withLaneContext(context, () => dispatcher.request({ origin, path: '/', method: 'GET' }));
  await res.body.text();
  const headers = seen.at(-1)!;
  assert.equal(headers['x-lane'], 'gray');
  assert.equal(headers['x-mse-tag'], undefined);
  assert.equal(headers['x-user-id'], '42');
  assert.equal(headers['x-huge'], undefined);
  assert.equal(headers['x-bad'], undefined);
  assert.equal(headers['x-wide'], undefined);
});

// A Pool with a connection limit queues requests and creates them later, from the socket's async
// context; the interceptor tags at dispatch time, before the queue, so each request keeps its own
// lane — with or without the automatic hook.
for (const automatic of [false, true]) {
  test(`laneInterceptor on a Pool with connections: 1 keeps each queued request in its lane (automatic hook ${automatic ? 'on' : 'off'})`, async (t) => {
    if (automatic) {
      const propagation = enablePropagation();
      t.after(() => propagation.disable());
    }
    const { origin, seen } = await laneEchoServer(t, 5);
    const pool = new Pool(origin, { connections: 1 }).compose(laneInterceptor());
    t.after(() => pool.close());
    await checkQueuedLanes(pool, ['gray', 'blue', undefined, 'feature-x', 'gray', undefined, 'blue', 'v2']);
    // Nothing but the lane reaches the wire: no graylane-private header of any kind.
    assert.ok(seen.every((headers) => Object.keys(headers).every((name) => !name.includes('graylane'))));
  });
}

test('laneInterceptor rejects malformed options at setup', () => {
  assert.throws(() => laneInterceptor({ header: 'not a header' }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => laneInterceptor({ carry: 'yes' as never }), { code: 'GL_ERR_INVALID_OPTION' });
});
