import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BalancerName, ServiceInstanceInit } from '@graylane/discovery';
import { GRAY, setup, tally } from './helpers';

const PICKS = 200_000;
const BALANCERS: readonly BalancerName[] = ['round-robin', 'random', 'p2c'];

function weighted(weights: readonly number[], labels?: Record<string, string>): ServiceInstanceInit[] {
  return weights.map((weight, i) => ({
    service: 'svc',
    id: `w${weight}-${i}`,
    host: `10.0.0.${i + 1}`,
    port: 80,
    weight,
    labels,
  }));
}

function assertShares(
  counts: Map<string, number>,
  instances: readonly ServiceInstanceInit[],
  what: string,
): void {
  const total = instances.reduce((sum, i) => sum + (i.weight ?? 100), 0);
  let picks = 0;
  for (const n of counts.values()) picks += n;
  for (const instance of instances) {
    const expected = (instance.weight ?? 100) / total;
    const observed = (counts.get(instance.id!) ?? 0) / picks;
    assert.ok(
      Math.abs(observed - expected) <= 0.02 * expected,
      `${what}: ${instance.id} got ${(observed * 100).toFixed(2)}%, expected ${(expected * 100).toFixed(2)}% (±2% of it)`,
    );
  }
}

for (const balancer of BALANCERS) {
  test(`${balancer}: weights are respected within 2% over ${PICKS.toLocaleString('en')} picks, in base and in a lane`, async (t) => {
    const base = weighted([20, 30, 50]);
    const gray = weighted([25, 75], GRAY).map((i, n) => ({
      ...i,
      id: `gray-${i.id}`,
      host: `10.0.1.${n + 1}`,
    }));
    const { discovery } = await setup(t, [...base, ...gray], { balancer });
    assertShares(
      tally(PICKS, () => discovery.pick('svc', null)),
      base,
      `${balancer} base`,
    );
    assertShares(
      tally(PICKS, () => discovery.pick('svc', 'gray')),
      gray,
      `${balancer} gray`,
    );
  });
}

test('round-robin is the smooth nginx sequence: {5, 1, 1} interleaves as a a b a c a a', async (t) => {
  const instances = [
    { service: 'svc', id: 'a', host: '10.0.0.1', port: 80, weight: 5 },
    { service: 'svc', id: 'b', host: '10.0.0.2', port: 80, weight: 1 },
    { service: 'svc', id: 'c', host: '10.0.0.3', port: 80, weight: 1 },
  ];
  const { discovery } = await setup(t, instances);
  const seen = Array.from({ length: 14 }, () => discovery.pick('svc').id).join('');
  // The schedule starts at a random point of its period: any rotation of the nginx period.
  const period = 'aabacaa';
  assert.ok((period + period).includes(seen.slice(0, 7)), seen);
  assert.equal(seen.slice(7), seen.slice(0, 7), 'periodic');
});

test('round-robin over 100,000 equal instances visits each exactly once per period', async (t) => {
  const instances = Array.from({ length: 100_000 }, (_, i) => ({
    service: 'svc',
    id: `i${i}`,
    host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 80,
  }));
  const { discovery } = await setup(t, instances);
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) seen.add(discovery.pick('svc').id);
  assert.equal(seen.size, 100_000);
});

test('round-robin with a schedule too long to build exactly still honours weights within 2%', async (t) => {
  // 1,000 instances weighing 997 or 1000: the exact period (998,500) is scaled down to fit.
  const instances = Array.from({ length: 1000 }, (_, i) => ({
    service: 'svc',
    id: `i${i}`,
    host: `10.0.${i >> 8}.${i & 255}`,
    port: 80,
    weight: i % 2 === 0 ? 997 : 1000,
  }));
  const { discovery } = await setup(t, instances);
  let heavy = 0;
  for (let i = 0; i < PICKS; i++) if (Number(discovery.pick('svc').id.slice(1)) % 2 === 1) heavy++;
  const expected = 1000 / 1997;
  assert.ok(Math.abs(heavy / PICKS - expected) <= 0.02 * expected, `${heavy / PICKS}`);
});

test('p2c steers away from an instance with requests outstanding, and back once they end', async (t) => {
  const { discovery } = await setup(t, weighted([100, 100]), { balancer: 'p2c' });
  const [busy] = discovery.instances('svc');
  for (let i = 0; i < 20; i++) discovery.report('svc', busy!, 'start');
  let toBusy = 0;
  for (let i = 0; i < 10_000; i++) if (discovery.pick('svc') === busy) toBusy++;
  // Only when both draws land on the busy instance (1 in 4) does it get the call.
  assert.ok(toBusy < 3500, `busy instance got ${toBusy} of 10,000`);
  const snap = discovery.snapshot().services.svc!.lanes[0]!.instances.find((i) => i.id === busy!.id)!;
  assert.equal(snap.outstanding, 20);
  for (let i = 0; i < 25; i++) discovery.report('svc', busy!, 'end');
  assert.equal(discovery.snapshot().services.svc!.lanes[0]!.instances[0]!.outstanding, 0, 'never below zero');
  toBusy = 0;
  for (let i = 0; i < 10_000; i++) if (discovery.pick('svc') === busy) toBusy++;
  assert.ok(toBusy > 4500 && toBusy < 5500, `busy instance got ${toBusy} of 10,000 once idle`);
  discovery.report('svc', { ...busy!, id: 'unknown' }, 'start');
  discovery.report('nope', busy!, 'start');
});
