import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError, withLane } from '@graylane/core';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { ERROR_CODE_METADATA_KEY, registerLaneChannel } from '@graylane/grpc';
import { type ServiceError, status } from '@grpc/grpc-js';
import { bidi, type EchoClient, echoClient, serverStream, startEchoServer, unary } from './helpers/echo';
import { GRAY, startFleet } from './helpers/lane-fleet';

const inLane = <T>(lane: string | undefined, fn: () => Promise<T>) =>
  lane === undefined ? fn() : withLane(lane, fn);

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  assert.fail('the call was expected to fail');
}

test('one graylane:///svc-b channel: gray -> b-gray, none -> b-stable, feature-x -> b-stable', async (t) => {
  const fleet = await startFleet(t, {
    scheme: 'graylane',
    service: 'svc-b',
    members: [{ name: 'b-stable' }, { name: 'b-gray', labels: GRAY }],
  });
  const client = fleet.client('svc-b');
  const lanes = ['gray', undefined, 'feature-x'] as const;
  const expected = { gray: 'b-gray', none: 'b-stable', 'feature-x': 'b-stable' } as const;
  const peers = new Map<string, Set<string>>();
  for (let round = 0; round < 10; round++) {
    for (const lane of lanes) {
      const reply = await inLane(lane, () => unary(client));
      assert.equal(reply.served_by, expected[lane ?? 'none'], `round ${round}, lane ${lane}`);
      assert.equal(reply.lane, lane ?? '', 'the server sees the lane the call carried');
      if (!peers.has(reply.served_by)) peers.set(reply.served_by, new Set());
      peers.get(reply.served_by)!.add(reply.peer);
    }
  }
  // Streaming calls take the same route.
  assert.equal((await withLane('gray', () => serverStream(client, { count: 1 })))[0]!.served_by, 'b-gray');
  assert.equal((await bidi(client, 1))[0]!.served_by, 'b-stable');
  // Subchannels are shared across lanes: base and feature-x calls to b-stable used one connection.
  assert.equal(peers.get('b-stable')!.size, 1);
  assert.equal(peers.get('b-gray')!.size, 1);
});

test('each call is counted once, also a call that queued while its connection was made', async (t) => {
  const fleet = await startFleet(t, {
    scheme: 'graylane-count',
    service: 'svc-b',
    members: [{ name: 'b-stable' }],
  });
  const fallbacks: unknown[] = [];
  const onFallback = (message: unknown) => fallbacks.push(message);
  diagnosticsChannel.subscribe('graylane:discovery:fallback', onFallback);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:discovery:fallback', onFallback));
  // A new channel connects on its first call: these calls are picked (queued), then picked again.
  const client = fleet.client('svc-b');
  const first = await Promise.all([
    withLane('gray', () => unary(client)),
    withLane('gray', () => unary(client)),
    withLane('gray', () => serverStream(client, { count: 1 })),
    unary(client),
  ]);
  assert.deepEqual(
    first.flat().map((reply) => reply.served_by),
    ['b-stable', 'b-stable', 'b-stable', 'b-stable'],
  );
  for (let i = 0; i < 3; i++) await withLane('gray', () => unary(client));
  const service = fleet.discovery.snapshot().services['svc-b']!;
  assert.deepEqual(service.counters.picks, [
    { from: null, to: null, picks: 1, fallback: false },
    { from: 'gray', to: null, picks: 6, fallback: true, reason: 'no-instance' },
  ]);
  assert.equal(service.lanes[0]!.instances[0]!.picks, 7);
  assert.equal(fallbacks.length, 6, 'one graylane:discovery:fallback per gray call');
});

test('deregistering b-gray moves gray calls to b-stable without a failed call; in-flight calls finish', async (t) => {
  const fleet = await startFleet(t, {
    scheme: 'graylane-dereg',
    service: 'svc-b',
    members: [{ name: 'b-stable' }],
  });
  const { port: grayPort } = await startEchoServer(
    { name: 'b-gray', interceptors: [(await import('@graylane/grpc')).laneServerInterceptor()] },
    t,
  );
  const registration = await fleet.registry.register({
    service: 'svc-b',
    id: 'b-gray',
    host: '127.0.0.1',
    port: grayPort,
    labels: GRAY,
  });
  const client = fleet.client('svc-b');
  // Wait (bounded) until the channel knows b-gray.
  for (let i = 0; i < 50 && (await withLane('gray', () => unary(client))).served_by !== 'b-gray'; i++)
    await sleep(10);
  assert.equal((await withLane('gray', () => unary(client))).served_by, 'b-gray');

  const slow = withLane('gray', () => unary(client, { delay_ms: 300 }));
  await sleep(20); // the slow call is in flight on b-gray
  let failures = 0;
  const servedBy: string[] = [];
  let deregistered = false;
  let stableStreak = 0;
  // Four callers keep gray calls in flight across the change. Bounded: at most 100 calls each,
  // stopping once 30 gray calls in a row reached b-stable after the change.
  const worker = async () => {
    for (let i = 0; i < 100 && stableStreak < 30; i++) {
      try {
        const reply = await withLane('gray', () => unary(client));
        servedBy.push(reply.served_by);
        stableStreak = deregistered && reply.served_by === 'b-stable' ? stableStreak + 1 : 0;
      } catch {
        failures++;
      }
    }
  };
  const loop = Promise.all([worker(), worker(), worker(), worker()]);
  await sleep(30);
  await registration.close();
  deregistered = true;
  await loop;
  assert.equal(failures, 0);
  assert.ok(servedBy.includes('b-gray'), 'gray calls reached b-gray before the change');
  assert.equal(servedBy.at(-1), 'b-stable');
  assert.ok(servedBy.filter((name) => name === 'b-stable').length >= 30);
  const slowReply = await slow;
  assert.equal(slowReply.served_by, 'b-gray', 'the call in flight during the change finished on b-gray');

  // Registering it again brings gray calls back.
  const again = await fleet.registry.register({
    service: 'svc-b',
    id: 'b-gray',
    host: '127.0.0.1',
    port: grayPort,
    labels: GRAY,
  });
  t.after(() => again.close());
  let back = '';
  for (let i = 0; i < 100 && back !== 'b-gray'; i++) {
    back = (await withLane('gray', () => unary(client))).served_by;
    if (back !== 'b-gray') await sleep(10);
  }
  assert.equal(back, 'b-gray');
});

test('a call that cannot be routed fails UNAVAILABLE naming the service and the lane', async (t) => {
  const fleet = await startFleet(t, {
    scheme: 'graylane-unroutable',
    service: 'svc-c',
    members: [{ name: 'c-gray', labels: GRAY }],
    discovery: { strict: ['feature-x'] },
  });
  const client = fleet.client('svc-c');
  assert.equal((await withLane('gray', () => unary(client))).served_by, 'c-gray');

  const base = await failure(unary(client));
  assert.equal(base.code, status.UNAVAILABLE);
  assert.match(base.details, /svc-c/);
  assert.match(base.details, /\(base\)/);
  assert.deepEqual(base.metadata.get(ERROR_CODE_METADATA_KEY), ['GL_ERR_GRPC_UNROUTABLE']);
  assert.deepEqual(base.metadata.get(`${ERROR_CODE_METADATA_KEY}-cause`), ['GL_ERR_NO_INSTANCE']);

  const strict = await failure(withLane('feature-x', () => unary(client)));
  assert.equal(strict.code, status.UNAVAILABLE);
  assert.match(strict.details, /svc-c in lane feature-x/);
});

test('strict: an instance that cannot be reached fails its calls UNAVAILABLE, naming service and lane', async (t) => {
  // (Permissive lanes fall back instead: see lane-channel-ejection.test.ts.)
  // A port nothing listens on: bind, read the port, close.
  const closed = await startEchoServer({ name: 'gone' });
  closed.server.forceShutdown();
  const fleet = await startFleet(t, {
    scheme: 'graylane-unreachable',
    service: 'svc-d',
    members: [{ name: 'd-stable' }],
    discovery: { strict: ['gray'] },
  });
  const registration = await fleet.registry.register({
    service: 'svc-d',
    id: 'd-gray',
    host: '127.0.0.1',
    port: closed.port,
    labels: GRAY,
  });
  t.after(() => registration.close());
  const client = fleet.client('svc-d');
  assert.equal((await unary(client)).served_by, 'd-stable', 'base calls are unaffected');
  // Bounded: the first gray calls may wait while the connection attempt is still running.
  let error: ServiceError | undefined;
  for (let i = 0; i < 50 && error === undefined; i++) {
    try {
      await withLane('gray', () => unary(client));
    } catch (caught) {
      error = caught as ServiceError;
    }
  }
  assert.ok(error !== undefined, 'gray calls fail: the gray instance is registered but unreachable');
  assert.equal(error.code, status.UNAVAILABLE);
  assert.match(error.details, /svc-d in lane gray/);
  assert.deepEqual(error.metadata.get(ERROR_CODE_METADATA_KEY), ['GL_ERR_GRPC_UNROUTABLE']);
});

test('calls queue until the first instance set arrives, then succeed', async (t) => {
  const { port } = await startEchoServer({ name: 'late' }, t);
  let deliver: (() => void) | undefined;
  const registry = staticRegistry({ env: false });
  // A registry that answers svc-late only when told to.
  const slowRegistry = {
    name: 'slow',
    subscribe: (service: string, listener: Parameters<typeof registry.subscribe>[1]) => {
      let active = true;
      deliver = () => {
        if (active)
          listener({
            ok: true,
            instances: [{ id: 'late', host: '127.0.0.1', port, labels: {}, weight: 100, healthy: true }],
          });
      };
      void service;
      return () => {
        active = false;
      };
    },
    register: registry.register.bind(registry),
    close: () => registry.close(),
  };
  const discovery = createDiscovery({ registry: slowRegistry });
  const registration = registerLaneChannel({ discovery, scheme: 'graylane-late' });
  t.after(async () => {
    registration.close();
    await discovery.close();
    await registry.close();
  });
  const client = echoClient('graylane-late:///svc-late', {}, t);
  const pending = unary(client);
  await sleep(50);
  assert.ok(deliver !== undefined, 'the resolver subscribed');
  deliver();
  assert.equal((await pending).served_by, 'late');
});

test('registering again swaps the discovery: open channels follow; close() detaches it', async (t) => {
  const first = await startFleet(t, {
    scheme: 'graylane-swap',
    service: 'svc-b',
    members: [{ name: 'one' }],
  });
  const client = first.client('svc-b');
  assert.equal((await unary(client)).served_by, 'one');

  const { port } = await startEchoServer({ name: 'two' }, t);
  const registry = staticRegistry({
    env: false,
    instances: [{ service: 'svc-b', id: 'two', host: '127.0.0.1', port }],
  });
  const discovery = createDiscovery({ registry });
  const second = registerLaneChannel({ discovery, scheme: 'graylane-swap' });
  t.after(async () => {
    await discovery.close();
    await registry.close();
  });
  let servedBy = '';
  for (let i = 0; i < 100 && servedBy !== 'two'; i++) {
    servedBy = (await unary(client)).served_by;
    if (servedBy !== 'two') await sleep(10);
  }
  assert.equal(servedBy, 'two');

  second.close();
  second.close(); // idempotent
  // The open channel keeps its last list; a new channel has nothing to resolve from.
  assert.equal((await unary(client)).served_by, 'two');
  const fresh: EchoClient = echoClient('graylane-swap:///svc-b', {}, t);
  const error = await failure(unary(fresh));
  assert.equal(error.code, status.UNAVAILABLE);
  assert.match(error.details, /no discovery is registered for graylane-swap/);
});

test('misconfiguration fails at setup', () => {
  const discovery = createDiscovery({ registry: staticRegistry({ env: false }) });
  assert.throws(() => registerLaneChannel({} as never), InvalidOptionError);
  assert.throws(() => registerLaneChannel({ discovery: { pick() {} } as never }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
  assert.throws(() => registerLaneChannel({ discovery, scheme: 'dns' }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => registerLaneChannel({ discovery, scheme: 'Not A Scheme' }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
  assert.throws(() => registerLaneChannel({ discovery, metadataKey: 'x-lane-bin' }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
  assert.throws(() => echoClient('graylane:///', {}), /graylane:\/\/\/<service>/);
  void discovery.close();
});
