import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import { laneDispatcher } from '@graylane/discovery/undici';
import { fetch, request } from 'undici';
import { listen } from '../../../test/helpers/listen';
import { GRAY, nextSet, setup } from './helpers';

interface Reply {
  readonly name: string;
  readonly host: string | undefined;
  readonly path: string | undefined;
}

/** A named HTTP server answering `{ name, host, path }`; `hold` delays answers until released. */
async function server(t: TestContext, name: string) {
  const sockets = new Set<Socket>();
  let held: Array<() => void> | null = null;
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const answer = () => res.end(JSON.stringify({ name, host: req.headers.host, path: req.url }));
    if (held === null) answer();
    else held.push(answer);
  });
  srv.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(srv, t);
  return {
    port,
    sockets,
    hold() {
      held = [];
    },
    release() {
      for (const answer of held ?? []) answer();
      held = null;
    },
  };
}

async function fixture(t: TestContext, balancer: 'round-robin' | 'p2c' = 'round-robin') {
  const stable = await server(t, 'b-stable');
  const gray = await server(t, 'b-gray');
  const { registry, discovery } = await setup(t, [], { balancer }, []);
  await registry.register({ service: 'svc-b', id: 'b-stable', host: '127.0.0.1', port: stable.port });
  const grayRegistration = await registry.register({
    service: 'svc-b',
    id: 'b-gray',
    host: '127.0.0.1',
    port: gray.port,
    labels: GRAY,
  });
  await discovery.ready('svc-b');
  await nextSet(discovery, 'svc-b', (set) => set.length === 2);
  const dispatcher = laneDispatcher({ discovery });
  t.after(() => dispatcher.close());
  return { stable, gray, grayRegistration, registry, discovery, dispatcher };
}

async function viaRequest(
  url: string,
  dispatcher: import('undici').Dispatcher,
  headers?: Record<string, string>,
) {
  const res = await request(url, { dispatcher, headers });
  return (await res.body.json()) as Reply;
}

async function viaFetch(url: string, dispatcher: import('undici').Dispatcher) {
  const res = await fetch(url, { dispatcher });
  return (await res.json()) as Reply;
}

test('undici request: http://svc-b goes to the gray instance in lane gray, stable otherwise; Host stays svc-b', async (t) => {
  const { dispatcher } = await fixture(t);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await viaRequest('http://svc-b/orders?id=1', dispatcher), {
      name: 'b-stable',
      host: 'svc-b',
      path: '/orders?id=1',
    });
    const gray = await withLane('gray', () => viaRequest('http://svc-b:8080/x', dispatcher));
    assert.deepEqual(gray, { name: 'b-gray', host: 'svc-b:8080', path: '/x' });
  }
  const explicit = await viaRequest('http://svc-b/', dispatcher, { Host: 'custom.example' });
  assert.equal(explicit.host, 'custom.example', 'a Host the caller set is kept');
  const viaMethod = await withLane('gray', () =>
    dispatcher.request({ origin: 'http://svc-b', path: '/m', method: 'GET' }),
  );
  assert.equal(((await viaMethod.body.json()) as Reply).name, 'b-gray');
});

test('undici fetch: the same routing', async (t) => {
  const { dispatcher } = await fixture(t);
  assert.equal((await viaFetch('http://svc-b/', dispatcher)).name, 'b-stable');
  assert.equal((await withLane('gray', () => viaFetch('http://svc-b/', dispatcher))).name, 'b-gray');
  const fallback = await withLane('blue', () => viaFetch('http://svc-b/', dispatcher));
  assert.equal(fallback.name, 'b-stable', 'a lane without instances falls back to base');
});

test("Node's global fetch accepts the dispatcher too", async (t) => {
  const { dispatcher } = await fixture(t);
  // The global fetch's RequestInit type does not declare `dispatcher` (an undici extension).
  const init = { dispatcher } as unknown as RequestInit;
  const stable = (await (await globalThis.fetch('http://svc-b/', init)).json()) as Reply;
  const gray = (await withLane('gray', () => globalThis.fetch('http://svc-b/', init)).then((r) =>
    r.json(),
  )) as Reply;
  assert.deepEqual([stable.name, gray.name], ['b-stable', 'b-gray']);
});

test("hostHeader: 'instance' sends the instance's host:port", async (t) => {
  const { discovery, stable } = await fixture(t);
  const dispatcher = laneDispatcher({ discovery, hostHeader: 'instance' });
  t.after(() => dispatcher.close());
  assert.equal((await viaRequest('http://svc-b/', dispatcher)).host, `127.0.0.1:${stable.port}`);
});

test('hosts that are not services pass through to the wrapped dispatcher', async (t) => {
  const { dispatcher } = await fixture(t);
  const other = await server(t, 'direct');
  assert.equal((await viaRequest(`http://127.0.0.1:${other.port}/`, dispatcher)).name, 'direct');
  assert.equal((await viaFetch(`http://localhost:${other.port}/`, dispatcher)).name, 'direct');
});

test('services: an explicit list decides which hosts are services', async (t) => {
  const { discovery } = await fixture(t);
  const dispatcher = laneDispatcher({ discovery, services: ['svc-b', 'svc-unknown'] });
  t.after(() => dispatcher.close());
  assert.equal((await viaRequest('http://svc-b/', dispatcher)).name, 'b-stable');
  // Listed but holding no instance: a typed error (the static registry answers at once), never DNS.
  await assert.rejects(viaRequest('http://svc-unknown/', dispatcher), {
    code: 'GL_ERR_NO_INSTANCE',
    message: /no healthy base instance/,
  });
  // Not listed: passed through (to DNS here: nothing listens on that name).
  const other = await server(t, 'direct');
  assert.equal((await viaRequest(`http://127.0.0.1:${other.port}/`, dispatcher)).name, 'direct');
});

test('no instance for the call: request rejects with NoInstanceError, fetch with it as the cause', async (t) => {
  const { registry, discovery, dispatcher, gray } = await fixture(t);
  await registry.register({
    service: 'svc-c',
    id: 'c-gray',
    host: '127.0.0.1',
    port: gray.port,
    labels: GRAY,
  });
  await discovery.ready('svc-c');
  await nextSet(discovery, 'svc-c', (set) => set.length === 1);
  await assert.rejects(viaRequest('http://svc-c/', dispatcher), {
    code: 'GL_ERR_NO_INSTANCE',
    name: 'NoInstanceError',
  });
  await assert.rejects(
    viaFetch('http://svc-c/', dispatcher),
    (err: Error & { cause?: { code?: string } }) => {
      assert.equal(err.cause?.code, 'GL_ERR_NO_INSTANCE');
      return true;
    },
  );
  assert.equal((await withLane('gray', () => viaRequest('http://svc-c/', dispatcher))).name, 'b-gray');
});

test("an instance's pool is closed when it leaves the registry; gray then falls back to stable", async (t) => {
  const { gray, grayRegistration, discovery, dispatcher } = await fixture(t);
  assert.equal((await withLane('gray', () => viaRequest('http://svc-b/', dispatcher))).name, 'b-gray');
  assert.equal(gray.sockets.size, 1, 'a kept-alive connection to b-gray');
  await grayRegistration.close();
  await nextSet(discovery, 'svc-b', (set) => set.length === 1);
  for (let i = 0; i < 100 && gray.sockets.size > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(gray.sockets.size, 0, 'the connection to the departed instance was closed');
  assert.equal((await withLane('gray', () => viaRequest('http://svc-b/', dispatcher))).name, 'b-stable');
});

test('p2c: each request is reported started and ended, even when it fails', async (t) => {
  const { stable, discovery, dispatcher } = await fixture(t, 'p2c');
  const outstanding = () =>
    discovery.snapshot().services['svc-b']!.lanes.find((l) => l.lane === null)!.instances[0]!.outstanding;
  stable.hold();
  const pending = viaRequest('http://svc-b/', dispatcher);
  for (let i = 0; i < 100 && outstanding() === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(outstanding(), 1);
  stable.release();
  await pending;
  assert.equal(outstanding(), 0);
  // A request that fails mid-way (aborted) ends too.
  stable.hold();
  const controller = new AbortController();
  const aborted = request('http://svc-b/', { dispatcher, signal: controller.signal });
  for (let i = 0; i < 100 && outstanding() === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  controller.abort();
  await assert.rejects(aborted);
  stable.release();
  assert.equal(outstanding(), 0);
});

test('close() closes the pools and the default pass-through agent; later requests fail', async (t) => {
  const { stable, dispatcher } = await fixture(t);
  await viaRequest('http://svc-b/', dispatcher);
  assert.equal(stable.sockets.size, 1);
  await dispatcher.close();
  for (let i = 0; i < 100 && stable.sockets.size > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(stable.sockets.size, 0);
  await assert.rejects(viaRequest('http://svc-b/', dispatcher));
});
