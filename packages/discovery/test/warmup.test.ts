// Warm-up (slow start) at the selection level: options, what starts a warm-up, the share a warming
// instance gets, and that the buckets go back to plain weights once the window is over. The shape
// of the ramp through real clients is in warmup-clients.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDiscovery, staticRegistry, type WarmupOptions } from '@graylane/discovery';
import { GRAY, nextSet, setup, tally, until } from './helpers';

const OLD = { service: 'svc', id: 'old', host: '10.0.0.1', port: 80, labels: GRAY };
const NEW = { service: 'svc', id: 'new', host: '10.0.0.2', port: 80, labels: GRAY };

test('warmup options are validated at setup with GL_ERR_INVALID_OPTION naming the field', () => {
  const registry = staticRegistry({ env: false });
  const bad: Array<[unknown, string]> = [
    [{}, 'warmup.durationMs'],
    [{ durationMs: 0 }, 'warmup.durationMs'],
    [{ durationMs: -5 }, 'warmup.durationMs'],
    [{ durationMs: Number.POSITIVE_INFINITY }, 'warmup.durationMs'],
    [{ durationMs: '30s' }, 'warmup.durationMs'],
    [{ durationMs: 1000, minWeightPercent: 0 }, 'warmup.minWeightPercent'],
    [{ durationMs: 1000, minWeightPercent: 0.5 }, 'warmup.minWeightPercent'],
    [{ durationMs: 1000, minWeightPercent: 101 }, 'warmup.minWeightPercent'],
    [{ durationMs: 1000, curve: 0 }, 'warmup.curve'],
    [{ durationMs: 1000, curve: 11 }, 'warmup.curve'],
    [{ durationMs: 1000, curve: 0.05 }, 'warmup.curve'],
    [{ durationMs: 1000, afterEjection: 'yes' }, 'warmup.afterEjection'],
    [{ durationMs: 1000, duration: 5 }, 'warmup.duration'],
    [true, 'warmup'],
    [30_000, 'warmup'],
  ];
  for (const [warmup, path] of bad) {
    assert.throws(
      // biome-ignore lint/suspicious/noExplicitAny: deliberately malformed options
      () => createDiscovery({ registry, warmup: warmup as any }),
      (error: { code?: string; path?: string }) =>
        error.code === 'GL_ERR_INVALID_OPTION' && error.path === path,
      `warmup ${JSON.stringify(warmup)} -> ${path}`,
    );
  }
  const good: Array<WarmupOptions | false | undefined> = [
    false,
    undefined,
    { durationMs: 1 },
    { durationMs: 5000, minWeightPercent: 100, curve: 10, afterEjection: true },
  ];
  for (const warmup of good) {
    createDiscovery({ registry, warmup }).close();
  }
});

test('instances of the first set do not warm; an instance registered later gets min% of its weight', async (t) => {
  const { registry, discovery } = await setup(t, [OLD], { warmup: { durationMs: 60_000 } });
  assert.equal(discovery.snapshot().services.svc!.lanes[1]!.warming, undefined);
  const registration = await registry.register(NEW);
  t.after(() => registration.close());
  await nextSet(discovery, 'svc', (set) => set.length === 2);
  // Round-robin over weights 100 x 100 and 100 x 10: exactly 1 in 11.
  const counts = tally(1100, () => discovery.pick('svc', 'gray'));
  assert.equal(counts.get('new'), 100);
  assert.equal(counts.get('old'), 1000);
  const gray = discovery.snapshot().services.svc!.lanes.find((l) => l.lane === 'gray')!;
  assert.equal(gray.warming, 1);
  const warming = gray.instances.find((i) => i.id === 'new')!;
  assert.equal(warming.warmup?.weightPercent, 10);
  const endsIn = Date.parse(warming.warmup!.endsAt) - Date.now();
  assert.ok(endsIn > 50_000 && endsIn <= 60_000, `ends in ${endsIn} ms`);
  assert.equal(gray.instances.find((i) => i.id === 'old')!.warmup, undefined);
  assert.equal(warming.weight, 100, 'the snapshot shows the registry weight');
});

test('the share grows over the window, then the bucket holds plain weights again', async (t) => {
  const { registry, discovery } = await setup(t, [OLD], { warmup: { durationMs: 800 } });
  const registration = await registry.register(NEW);
  t.after(() => registration.close());
  await nextSet(discovery, 'svc', (set) => set.length === 2);
  const share = () => (tally(2000, () => discovery.pick('svc', 'gray')).get('new') ?? 0) / 2000;
  const first = share();
  assert.ok(first < 0.15, `share right after registration: ${first}`);
  await until(() => discovery.snapshot().services.svc!.lanes[1]!.warming === undefined, 'the window to end');
  const gray = discovery.snapshot().services.svc!.lanes[1]!;
  assert.equal(gray.instances.find((i) => i.id === 'new')!.warmup, undefined);
  assert.equal(share(), 0.5, 'round-robin over equal weights once warm');
});

test('random and p2c balancers follow the warm-up weights too', async (t) => {
  for (const balancer of ['random', 'p2c'] as const) {
    const { registry, discovery } = await setup(t, [OLD], { balancer, warmup: { durationMs: 60_000 } });
    const registration = await registry.register(NEW);
    t.after(() => registration.close());
    await nextSet(discovery, 'svc', (set) => set.length === 2);
    const share = (tally(20_000, () => discovery.pick('svc', 'gray')).get('new') ?? 0) / 20_000;
    assert.ok(share > 0.05 && share < 0.13, `${balancer}: share ${share} (expected ~1/11)`);
  }
});

test('becoming pickable starts a warm-up: unhealthy -> healthy, weight 0 -> positive; leaving ends it', async (t) => {
  const { registry, discovery } = await setup(
    t,
    [OLD, { ...NEW, healthy: false }, { ...NEW, id: 'zero', host: '10.0.0.3', weight: 0 }],
    { warmup: { durationMs: 60_000, minWeightPercent: 20 } },
  );
  const warming = () =>
    discovery
      .snapshot()
      .services.svc!.lanes[1]!.instances.filter((i) => i.warmup !== undefined)
      .map((i) => i.id)
      .sort();
  assert.deepEqual(warming(), []);
  const healthy = await registry.register({ ...NEW, healthy: true });
  await nextSet(discovery, 'svc', (set) => set.find((i) => i.id === 'new')?.healthy === true);
  assert.deepEqual(warming(), ['new']);
  const weighted = await registry.register({ ...NEW, id: 'zero', host: '10.0.0.3', weight: 100 });
  await nextSet(discovery, 'svc', (set) => set.find((i) => i.id === 'zero')?.weight === 100);
  assert.deepEqual(warming(), ['new', 'zero']);
  // 100 x 100 + 2 x (100 x 20): 'new' and 'zero' each get 20 / 140.
  const counts = tally(1400, () => discovery.pick('svc', 'gray'));
  assert.deepEqual([counts.get('old'), counts.get('new'), counts.get('zero')], [1000, 200, 200]);
  await weighted.close();
  await nextSet(discovery, 'svc', (set) => set.find((i) => i.id === 'zero')?.weight === 0);
  assert.deepEqual(warming(), ['new'], 'weight back to 0: no longer warming');
  await healthy.close();
  await nextSet(discovery, 'svc', (set) => set.find((i) => i.id === 'new')?.healthy === false);
  assert.deepEqual(warming(), []);
});

test('an instance returning from ejection is not warmed by default; with afterEjection it is', async (t) => {
  for (const afterEjection of [false, true]) {
    const { discovery } = await setup(t, [OLD, NEW], {
      outlier: { baseEjectionMs: 200 },
      warmup: { durationMs: 60_000, afterEjection },
    });
    const instance = discovery.instances('svc').find((i) => i.id === 'new')!;
    for (let i = 0; i < 3; i++) discovery.reportOutcome('svc', instance, 'connect-failure');
    assert.equal(discovery.snapshot().services.svc!.lanes[1]!.ejected, 1);
    await until(() => discovery.snapshot().services.svc!.lanes[1]!.ejected === 0, 'the return');
    const counts = tally(1100, () => discovery.pick('svc', 'gray'));
    if (afterEjection) assert.equal(counts.get('new'), 100, 'ramped from 10% again');
    else assert.equal(counts.get('new'), 550, 'full share at once');
  }
});
