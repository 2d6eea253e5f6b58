import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { createDiscovery, type Instance, normalizeInstance, staticRegistry } from '@graylane/discovery';
import { GRAY, lane, manualRegistry, nextSet, setup, tally } from './helpers';

const STABLE = [
  { service: 'svc', id: 'stable-1', host: '10.0.0.1', port: 80 },
  { service: 'svc', id: 'stable-2', host: '10.0.0.2', port: 80 },
];
const GRAYS = [
  { service: 'svc', id: 'gray-1', host: '10.0.1.1', port: 80, labels: GRAY },
  { service: 'svc', id: 'gray-2', host: '10.0.1.2', port: 80, labels: GRAY, weight: 1000 },
];

test('a gray request goes to a gray instance when one exists', async (t) => {
  const { discovery } = await setup(t, [...STABLE, ...GRAYS]);
  for (let i = 0; i < 1000; i++) {
    assert.match(withLane('gray', () => discovery.pick('svc')).id, /^gray-/);
    assert.match(discovery.pick('svc', 'gray').id, /^gray-/);
  }
});

test('a gray request goes to base once the gray instance is gone, and the fallback is counted and published', async (t) => {
  const { registry, discovery } = await setup(t, STABLE);
  const gray = await registry.register({
    service: 'svc',
    id: 'gray-1',
    host: '10.0.1.1',
    port: 80,
    labels: GRAY,
  });
  await nextSet(discovery, 'svc', (set) => set.some((i) => i.id === 'gray-1'));
  assert.equal(discovery.pick('svc', 'gray').id, 'gray-1');

  await gray.close();
  await nextSet(discovery, 'svc', (set) => !set.some((i) => i.id === 'gray-1'));
  const messages: unknown[] = [];
  const onFallback = (message: unknown) => messages.push(message);
  diagnosticsChannel.subscribe('graylane:discovery:fallback', onFallback);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:discovery:fallback', onFallback));
  for (let i = 0; i < 10; i++) assert.match(withLane('gray', () => discovery.pick('svc')).id, /^stable-/);
  assert.equal(messages.length, 10);
  assert.deepEqual(messages[0], {
    service: 'svc',
    lane: 'gray',
    servedLane: undefined,
    reason: 'no-instance',
  });
  const counters = discovery.snapshot().services.svc!.counters;
  assert.deepEqual(counters.fallbacks, [
    { from: 'gray', to: null, picks: 10, fallback: true, reason: 'no-instance' },
  ]);
});

test('untagged traffic never reaches a lane instance (10,000 picks), and null means base inside a lane', async (t) => {
  const { discovery } = await setup(t, [
    ...STABLE,
    ...GRAYS,
    { service: 'svc', id: 'blue-1', host: '10.0.2.1', port: 80, labels: lane('blue') },
  ]);
  for (const balancer of ['round-robin', 'random', 'p2c'] as const) {
    const registry = staticRegistry({ instances: [...STABLE, ...GRAYS], env: false });
    const d = createDiscovery({ registry, balancer });
    t.after(() => registry.close());
    t.after(() => d.close());
    await d.ready('svc');
    const counts = tally(10_000, () => d.pick('svc'));
    assert.deepEqual([...counts.keys()].sort(), ['stable-1', 'stable-2'], balancer);
  }
  const counts = tally(10_000, () => withLane('gray', () => discovery.pick('svc', null)));
  assert.deepEqual([...counts.keys()].sort(), ['stable-1', 'stable-2']);
});

test('no base instance: untagged picks fail with GL_ERR_NO_INSTANCE, lane picks still work', async (t) => {
  const { discovery } = await setup(t, GRAYS);
  assert.throws(
    () => discovery.pick('svc'),
    (err: Error & { code?: string; lane?: string }) => {
      assert.equal(err.code, 'GL_ERR_NO_INSTANCE');
      assert.equal(err.name, 'NoInstanceError');
      assert.equal(err.lane, undefined);
      assert.match(err.message, /no healthy base instance/);
      return true;
    },
  );
  assert.match(discovery.pick('svc', 'gray').id, /^gray-/);
  const route = discovery.snapshot().services.svc!.routes.find((r) => r.lane === null)!;
  assert.equal(route.noInstance, 1);
});

test('strict: true forbids the base fallback for every lane; strict: [lanes] only for those', async (t) => {
  const all = await setup(t, STABLE, { strict: true });
  assert.throws(() => all.discovery.pick('svc', 'gray'), {
    code: 'GL_ERR_NO_INSTANCE',
    name: 'NoInstanceError',
  });
  assert.throws(() => all.discovery.pick('svc', 'blue'), /strict mode forbids/);
  assert.match(all.discovery.pick('svc').id, /^stable-/, 'untagged still goes to base');

  const some = await setup(t, STABLE, { strict: ['gray'] });
  assert.throws(() => some.discovery.pick('svc', 'gray'), { code: 'GL_ERR_NO_INSTANCE' });
  assert.match(some.discovery.pick('svc', 'blue').id, /^stable-/);

  const served = await setup(t, [...STABLE, ...GRAYS], { strict: true });
  assert.match(served.discovery.pick('svc', 'gray').id, /^gray-/);
});

test('a fallback chain is honoured hop by hop before base', async (t) => {
  const fallback = { 'feature-x': 'gray', gray: 'canary' };
  const { registry, discovery } = await setup(
    t,
    [...STABLE, { service: 'svc', id: 'canary-1', host: '10.0.3.1', port: 80, labels: lane('canary') }],
    { fallback },
  );
  assert.equal(discovery.pick('svc', 'feature-x').id, 'canary-1');
  assert.equal(discovery.pick('svc', 'gray').id, 'canary-1');

  const gray = await registry.register({
    service: 'svc',
    id: 'gray-1',
    host: '10.0.1.1',
    port: 80,
    labels: GRAY,
  });
  await nextSet(discovery, 'svc', (set) => set.some((i) => i.id === 'gray-1'));
  assert.equal(discovery.pick('svc', 'feature-x').id, 'gray-1');

  await registry.register({
    service: 'svc',
    id: 'fx-1',
    host: '10.0.4.1',
    port: 80,
    labels: lane('feature-x'),
  });
  await nextSet(discovery, 'svc', (set) => set.some((i) => i.id === 'fx-1'));
  assert.equal(discovery.pick('svc', 'feature-x').id, 'fx-1');

  await gray.close();
  await nextSet(discovery, 'svc', (set) => !set.some((i) => i.id === 'gray-1'));
  assert.equal(discovery.pick('svc', 'gray').id, 'canary-1');

  const strict = await setup(t, STABLE, { fallback, strict: ['feature-x'] });
  assert.throws(() => strict.discovery.pick('svc', 'feature-x'), /lanes feature-x -> gray -> canary/);
});

test('a fallback cycle, a bad lane or a bad balancer is a setup error with a stable code', () => {
  const registry = staticRegistry({ env: false });
  for (const [options, path] of [
    [{ fallback: { a: 'b', b: 'c', c: 'a' } }, /cycle a -> b -> c -> a/],
    [{ fallback: { a: 'a' } }, /cycle a -> a/],
    [{ fallback: { a: '-bad' } }, /fallback\.a/],
    [{ strict: ['ok', 'not ok'] }, /strict\[1\]/],
    [{ balancer: 'fastest' }, /balancer/],
    [{ laneLabels: [] }, /laneLabels/],
    [{ laneLabels: ['a*b'] }, /laneLabels\[0\]/],
  ] as const) {
    assert.throws(
      () => createDiscovery({ registry, ...(options as object) }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GL_ERR_INVALID_OPTION');
        assert.match(err.message, path);
        return true;
      },
    );
  }
  assert.throws(() => createDiscovery({} as never), { code: 'GL_ERR_INVALID_OPTION' });
});

test('unhealthy and zero-weight instances are never picked', async (t) => {
  const { discovery } = await setup(t, [
    { service: 'svc', id: 'up', host: '10.0.0.1', port: 80 },
    { service: 'svc', id: 'down', host: '10.0.0.2', port: 80, healthy: false },
    { service: 'svc', id: 'drained', host: '10.0.0.3', port: 80, weight: 0 },
    { service: 'svc', id: 'gray-down', host: '10.0.1.1', port: 80, labels: GRAY, healthy: false },
  ]);
  for (const balancer of ['untagged', 'gray'] as const) {
    const counts = tally(2000, () => discovery.pick('svc', balancer === 'gray' ? 'gray' : null));
    assert.deepEqual([...counts.keys()], ['up'], balancer);
  }
  const lanes = discovery.snapshot().services.svc!.lanes;
  assert.deepEqual(
    lanes.map((l) => [l.lane, l.pickable, l.instances.length]),
    [
      [null, 1, 3],
      ['gray', 0, 1],
    ],
  );
});

test('an instance whose lane label is not a valid lane is excluded from every bucket and shown as invalid', async (t) => {
  const { discovery } = await setup(t, [
    { service: 'svc', id: 'stable', host: '10.0.0.1', port: 80 },
    { service: 'svc', id: 'bad', host: '10.0.0.9', port: 80, labels: { 'alicloud.service.tag': '-gray' } },
    { service: 'svc', id: 'empty', host: '10.0.0.8', port: 80, labels: { 'traffic.opensergo.io/label': '' } },
  ]);
  const counts = tally(10_000, () => discovery.pick('svc'));
  assert.deepEqual([...counts.keys()], ['stable']);
  assert.equal(discovery.pick('svc', 'gray').id, 'stable');
  const invalid = discovery.snapshot().services.svc!.invalid;
  assert.deepEqual(invalid, [
    { id: 'bad', host: '10.0.0.9', port: 80, label: 'alicloud.service.tag', value: '-gray' },
    { id: 'empty', host: '10.0.0.8', port: 80, label: 'traffic.opensergo.io/label', value: '' },
  ]);
  const only = await setup(t, [
    { service: 'svc', id: 'bad', host: '10.0.0.9', port: 80, labels: { ASM_TRAFFIC_TAG: 'a b' } },
  ]);
  assert.throws(() => only.discovery.pick('svc'), { code: 'GL_ERR_NO_INSTANCE' });
});

test('every default lane-label convention puts an instance in its lane; custom laneLabels replace them', async (t) => {
  const { discovery } = await setup(t, [
    { service: 'svc', id: 'stable', host: '10.0.0.1', port: 80, labels: { app: 'svc' } },
    { service: 'svc', id: 'mse', host: '10.0.1.1', port: 80, labels: { 'alicloud.service.tag': 'l1' } },
    {
      service: 'svc',
      id: 'opensergo',
      host: '10.0.1.2',
      port: 80,
      labels: { 'traffic.opensergo.io/label': 'l2' },
    },
    { service: 'svc', id: 'asm', host: '10.0.1.3', port: 80, labels: { ASM_TRAFFIC_TAG: 'l3' } },
    { service: 'svc', id: 'kruise', host: '10.0.1.4', port: 80, labels: { 'opensergo.io/canary-l4': 'l4' } },
  ]);
  assert.deepEqual(
    ['l1', 'l2', 'l3', 'l4', 'other'].map((l) => discovery.pick('svc', l).id),
    ['mse', 'opensergo', 'asm', 'kruise', 'stable'],
  );
  const custom = await setup(
    t,
    [
      {
        service: 'svc',
        id: 'v1',
        host: '10.0.0.1',
        port: 80,
        labels: { version: 'v1', 'alicloud.service.tag': 'x' },
      },
      { service: 'svc', id: 'base', host: '10.0.0.2', port: 80, labels: { 'alicloud.service.tag': 'gray' } },
    ],
    { laneLabels: ['version'] },
  );
  assert.equal(custom.discovery.pick('svc', 'v1').id, 'v1');
  assert.equal(custom.discovery.pick('svc').id, 'base', 'alicloud.service.tag is not a lane label here');
  assert.deepEqual(custom.discovery.snapshot().config.laneLabels, ['version']);
});

test('pick before the first update throws "not loaded yet" and subscribes; ready() then resolves', async (t) => {
  // An asynchronous registry (a static registry answers synchronously: see lane-integrity.test.ts).
  const { registry, emit } = manualRegistry();
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  setTimeout(() => emit('svc', { ok: true, instances: STABLE.map((i) => normalizeInstance(i)) }), 20);
  assert.equal(discovery.tracks('svc'), false);
  assert.throws(
    () => discovery.pick('svc'),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GL_ERR_NO_INSTANCE');
      assert.match(err.message, /not loaded yet.*ready\('svc'\)/);
      return true;
    },
  );
  assert.equal(discovery.tracks('svc'), true);
  await discovery.ready('svc');
  assert.match(discovery.pick('svc').id, /^stable-/);
  await discovery.ready('svc');
});

test('a value that is not a lane is served as base and counted, never thrown', async (t) => {
  const { discovery } = await setup(t, [...STABLE, ...GRAYS]);
  for (const bad of ['not a lane', '-x', 'x'.repeat(64)])
    assert.match(discovery.pick('svc', bad).id, /^stable-/);
  assert.equal(discovery.snapshot().services.svc!.counters.invalidLanePicks, 3);
});

test('choose() selects like pick() but counts nothing; countPick(choice) counts the call once', async (t) => {
  const { discovery } = await setup(t, STABLE);
  const messages: unknown[] = [];
  const onFallback = (message: unknown) => messages.push(message);
  diagnosticsChannel.subscribe('graylane:discovery:fallback', onFallback);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:discovery:fallback', onFallback));
  const picksOf = () =>
    Object.fromEntries(discovery.snapshot().services.svc!.lanes[0]!.instances.map((i) => [i.id, i.picks]));

  // Three choices for one call (as a gRPC picker re-picking a queued call), then one count.
  const chosen = [1, 2, 3].map(() => discovery.choose('svc', 'gray'));
  assert.deepEqual(
    new Set(chosen.map((c) => c.instance.id)),
    new Set(['stable-1', 'stable-2']),
    'the balancer moves on',
  );
  assert.equal(chosen[0]!.lane, 'gray');
  assert.equal(chosen[0]!.service, 'svc');
  assert.deepEqual(discovery.snapshot().services.svc!.counters.picks, [], 'choices are not counted');
  assert.deepEqual(picksOf(), { 'stable-1': 0, 'stable-2': 0 });
  assert.equal(messages.length, 0);

  discovery.countPick(chosen[2]!);
  discovery.countPick(chosen[0]!);
  discovery.countPick(withLane('gray', () => discovery.choose('svc'))); // lane omitted: the current lane
  discovery.countPick(discovery.choose('svc', null));
  const counters = discovery.snapshot().services.svc!.counters;
  assert.deepEqual(counters.fallbacks, [
    { from: 'gray', to: null, picks: 3, fallback: true, reason: 'no-instance' },
  ]);
  assert.deepEqual(counters.picks, [
    { from: null, to: null, picks: 1, fallback: false },
    { from: 'gray', to: null, picks: 3, fallback: true, reason: 'no-instance' },
  ]);
  assert.equal(picksOf()['stable-1']! + picksOf()['stable-2']!, 4);
  assert.equal(messages.length, 3);
  assert.deepEqual(messages[0], {
    service: 'svc',
    lane: 'gray',
    servedLane: undefined,
    reason: 'no-instance',
  });

  // An invalid lane value is counted once (by the choice), a failed choice as in pick().
  discovery.countPick(discovery.choose('svc', '-bad'));
  assert.equal(discovery.snapshot().services.svc!.counters.invalidLanePicks, 1);
  assert.throws(() => discovery.choose('svc-none', 'gray'), { code: 'GL_ERR_NO_INSTANCE' });
  // Not a choice of this discovery: ignored, no throw.
  discovery.countPick({ service: 'svc', lane: 'gray', instance: chosen[0]!.instance });
  assert.equal(picksOf()['stable-1']! + picksOf()['stable-2']!, 5);
});

test('choices are independent: counted in any order, across services, after a registry change', async (t) => {
  const a = { service: 'a', id: 'a-1', host: '10.0.1.1', port: 80 };
  const b = { service: 'b', id: 'b-1', host: '10.0.2.1', port: 80 };
  const bGray = { service: 'b', id: 'b-g', host: '10.0.2.2', port: 80, labels: GRAY };
  const { registry, discovery } = await setup(t, [a, b, bGray], {}, ['a', 'b']);
  const picksOf = (service: string) =>
    Object.fromEntries(
      discovery
        .snapshot()
        .services[service]!.lanes.flatMap((l) => l.instances)
        .map((i) => [i.id, i.picks]),
    );
  // Interleaved: a, b gray, b base chosen; counted in reverse order. Before the refactor, only the
  // last choice was remembered and the others were recounted by the lane as it was then.
  const ca = discovery.choose('a', 'gray');
  const cbg = discovery.choose('b', 'gray');
  const cb = discovery.choose('b', null);
  discovery.countPick(cb);
  discovery.countPick(cbg);
  discovery.countPick(ca);
  assert.deepEqual(picksOf('a'), { 'a-1': 1 });
  assert.deepEqual(picksOf('b'), { 'b-1': 1, 'b-g': 1 });
  assert.deepEqual(discovery.snapshot().services.a!.counters.fallbacks, [
    { from: 'gray', to: null, picks: 1, fallback: true, reason: 'no-instance' },
  ]);
  assert.deepEqual(discovery.snapshot().services.b!.counters.fallbacks, []);

  // A choice made before the gray instance left is counted where it was routed (gray -> gray).
  const before = discovery.choose('b', 'gray');
  const reg = await registry.register({ service: 'b', id: 'b-2', host: '10.0.2.3', port: 80 });
  t.after(() => reg.close());
  await nextSet(discovery, 'b', (set) => set.length === 3);
  discovery.countPick(before);
  assert.equal(picksOf('b')['b-g'], 2);
  assert.deepEqual(discovery.snapshot().services.b!.counters.fallbacks, []);
});

test('a registry failure keeps the last good set, is recorded and published', async (t) => {
  const { registry, emit } = manualRegistry();
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  const ready = discovery.ready('svc');
  const stable: Instance = Object.freeze({
    id: 's',
    host: '10.0.0.1',
    port: 80,
    labels: Object.freeze({}),
    weight: 100,
    healthy: true,
  });
  emit('svc', { ok: true, instances: [stable] });
  await ready;
  const errors: unknown[] = [];
  const onError = (message: unknown) => errors.push(message);
  diagnosticsChannel.subscribe('graylane:registry:error', onError);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:registry:error', onError));
  const failure = Object.assign(new Error('etcd down'), { code: 'GL_ERR_REGISTRY_UNAVAILABLE' });
  emit('svc', { ok: false, error: failure });
  assert.equal(discovery.pick('svc').id, 's');
  assert.deepEqual(errors, [{ registry: 'manual', service: 'svc', error: failure }]);
  const snap = discovery.snapshot().services.svc!;
  assert.equal(snap.lastError?.message, 'etcd down');
  assert.equal(snap.lastError?.code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  // A set the discovery cannot read is a failure too, not a crash.
  emit('svc', { ok: true, instances: [{ id: 'broken' } as unknown as Instance] });
  assert.equal(discovery.pick('svc').id, 's');
  assert.equal(errors.length, 2);
});

test('ready() times out with GL_ERR_REGISTRY_UNAVAILABLE naming the last error; close() rejects pending ready()', async (t) => {
  const { registry, emit } = manualRegistry();
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  const pending = discovery.ready('svc', { timeoutMs: 30 });
  emit('svc', { ok: false, error: new Error('connection refused') });
  await assert.rejects(pending, (err: Error & { code?: string }) => {
    assert.equal(err.code, 'GL_ERR_REGISTRY_UNAVAILABLE');
    assert.match(err.message, /svc within 30 ms.*connection refused/);
    return true;
  });
  assert.throws(() => discovery.pick('svc'), /not loaded yet.*connection refused/);
  const waiting = discovery.ready('other', { timeoutMs: 60_000 });
  await discovery.close();
  await assert.rejects(waiting, { code: 'GL_ERR_DISCOVERY_CLOSED' });
  assert.throws(() => discovery.pick('svc'), { code: 'GL_ERR_DISCOVERY_CLOSED' });
  await assert.rejects(discovery.ready('svc'), { code: 'GL_ERR_DISCOVERY_CLOSED' });
});

test('watch() gets the current set, then every change, until unwatched', async (t) => {
  const { registry, discovery } = await setup(t, STABLE);
  const seen: string[][] = [];
  const unwatch = discovery.watch('svc', (set) => seen.push(set.map((i) => i.id)));
  await nextSet(discovery, 'svc', () => true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [['stable-1', 'stable-2']]);
  const reg = await registry.register({ service: 'svc', id: 'x', host: '10.0.0.7', port: 80 });
  await nextSet(discovery, 'svc', (set) => set.length === 3);
  assert.deepEqual(seen.at(-1), ['stable-1', 'stable-2', 'x']);
  unwatch();
  const before = seen.length;
  await reg.close();
  await nextSet(discovery, 'svc', (set) => set.length === 2);
  assert.equal(seen.length, before);
});

test('services are independent', async (t) => {
  const { discovery } = await setup(
    t,
    [
      { service: 'a', id: 'a-stable', host: '10.0.0.1', port: 80 },
      { service: 'b', id: 'b-gray', host: '10.0.0.2', port: 80, labels: GRAY },
    ],
    {},
    ['a', 'b'],
  );
  assert.equal(discovery.pick('a', 'gray').id, 'a-stable');
  assert.equal(discovery.pick('b', 'gray').id, 'b-gray');
  assert.throws(() => discovery.pick('b'), { code: 'GL_ERR_NO_INSTANCE' });
  assert.deepEqual(Object.keys(discovery.snapshot().services), ['a', 'b']);
});

test('per-instance picks and outstanding requests survive a registry change', async (t) => {
  const { registry, discovery } = await setup(t, STABLE, { balancer: 'p2c' });
  const first = discovery.instances('svc')[0]!;
  for (let i = 0; i < 3; i++) discovery.report('svc', first, 'start');
  const before = tally(1000, () => discovery.pick('svc')).get(first.id)!;
  await registry.register({ service: 'svc', id: 'stable-3', host: '10.0.0.3', port: 80 });
  await nextSet(discovery, 'svc', (set) => set.length === 3);
  const base = () => discovery.snapshot().services.svc!.lanes[0]!.instances.find((i) => i.id === first.id)!;
  assert.equal(base().outstanding, 3);
  assert.equal(base().picks, before);
  discovery.pick('svc', null);
  for (let i = 0; i < 3; i++) discovery.report('svc', first, 'end');
  assert.equal(base().outstanding, 0);
});

test('a throwing watch() listener is reported on graylane:registry:error, never an uncaught exception', async (t) => {
  const { discovery } = await setup(t, STABLE);
  const reported: unknown[] = [];
  const onError = (message: unknown) => reported.push((message as { error: unknown }).error);
  diagnosticsChannel.subscribe('graylane:registry:error', onError);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:registry:error', onError));
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.prependListener('uncaughtException', onUncaught);
  t.after(() => process.removeListener('uncaughtException', onUncaught));
  const boom = new Error('watcher bug');
  t.after(
    discovery.watch('svc', () => {
      throw boom;
    }),
  );
  const seen = await nextSet(discovery, 'svc', () => true);
  assert.equal(seen.length, 2, 'the next watcher still gets the set');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(uncaught, []);
  assert.deepEqual(reported, [boom]);
});
