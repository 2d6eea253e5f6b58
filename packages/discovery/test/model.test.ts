import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_LANE_LABELS,
  isServiceName,
  laneOf,
  normalizeInstance,
  validateServiceName,
} from '@graylane/discovery';
import { GRAY, setup } from './helpers';

const at = (labels: Record<string, string>) => ({ labels });

test('laneOf: the first present lane label wins; a prefix entry takes the smallest matching key', () => {
  assert.deepEqual(DEFAULT_LANE_LABELS, [
    'alicloud.service.tag',
    'traffic.opensergo.io/label',
    'ASM_TRAFFIC_TAG',
    'opensergo.io/canary-*',
  ]);
  assert.equal(laneOf(at({})), undefined);
  assert.equal(laneOf(at({ app: 'x' })), undefined);
  assert.equal(laneOf(at({ ASM_TRAFFIC_TAG: 'asm', 'alicloud.service.tag': 'mse' })), 'mse');
  assert.equal(laneOf(at({ 'opensergo.io/canary-gray': 'gray' })), 'gray');
  assert.equal(laneOf(at({ 'opensergo.io/canary-z': 'z', 'opensergo.io/canary-b': 'b' })), 'b');
  assert.equal(laneOf(at({ 'opensergo.io/canary-': 'x' })), undefined, 'the prefix alone is not a match');
  assert.equal(laneOf(at({ 'opensergo.io/canary-gray': 'gray', 'traffic.opensergo.io/label': 'os' })), 'os');
  assert.equal(laneOf(at({ 'alicloud.service.tag': '-bad' })), '-bad', 'returned as found');
  assert.equal(laneOf(at({ version: 'v2', tier: 't' }), ['tier', 'version']), 't');
  assert.throws(() => laneOf(at({}), ['ver*sion']), { code: 'GL_ERR_INVALID_OPTION' });
});

test('normalizeInstance: defaults, frozen copies, and errors that name the field', () => {
  const labels = { 'alicloud.service.tag': 'gray' };
  const instance = normalizeInstance({ host: '10.0.0.5', port: 8080, labels });
  assert.deepEqual(instance, {
    id: '10.0.0.5:8080',
    host: '10.0.0.5',
    port: 8080,
    labels,
    weight: 100,
    healthy: true,
  });
  assert.ok(Object.isFrozen(instance) && Object.isFrozen(instance.labels));
  assert.notEqual(instance.labels, labels);
  assert.deepEqual(normalizeInstance({ host: '::1', port: 1, labels: { n: 1, b: true } as never }).labels, {
    n: '1',
    b: 'true',
  });
  for (const [init, path] of [
    [null, 'instance'],
    [{ port: 80 }, 'instance.host'],
    [{ host: '', port: 80 }, 'instance.host'],
    [{ host: 'a b', port: 80 }, 'instance.host'],
    [{ host: 'h', port: 0 }, 'instance.port'],
    [{ host: 'h', port: 80.5 }, 'instance.port'],
    [{ host: 'h', port: '80' }, 'instance.port'],
    [{ host: 'h', port: 80, id: '' }, 'instance.id'],
    [{ host: 'h', port: 80, weight: -1 }, 'instance.weight'],
    [{ host: 'h', port: 80, weight: 1.5 }, 'instance.weight'],
    [{ host: 'h', port: 80, weight: 2_000_000 }, 'instance.weight'],
    [{ host: 'h', port: 80, healthy: 'yes' }, 'instance.healthy'],
    [{ host: 'h', port: 80, labels: [] }, 'instance.labels'],
    [{ host: 'h', port: 80, labels: { a: {} } }, 'instance.labels.a'],
  ] as const) {
    assert.throws(
      () => normalizeInstance(init as never),
      (err: Error & { code?: string; path?: string; name?: string }) => {
        assert.equal(err.code, 'GL_ERR_INVALID_INSTANCE');
        assert.equal(err.name, 'InvalidInstanceError');
        assert.equal(err.path, path, JSON.stringify(init));
        return true;
      },
    );
  }
  assert.throws(() => normalizeInstance({ host: 'h', port: 0 }, 'instances[3]'), {
    path: 'instances[3].port',
  });
});

test('service names are DNS-like', () => {
  for (const ok of ['svc-b', 'svc_b', 'a', 'svc.ns.svc.cluster.local', 'A1'])
    assert.equal(isServiceName(ok), true, ok);
  for (const bad of ['', 'a b', 'a/b', '-a', 'a-', 'x'.repeat(254), 5])
    assert.equal(isServiceName(bad), false, String(bad));
  assert.throws(() => validateServiceName('a b'), { code: 'GL_ERR_INVALID_INSTANCE', path: 'service' });
});

test('snapshot(): the routing table, JSON-serializable, with config, buckets, routes and counters', async (t) => {
  const { discovery } = await setup(
    t,
    [
      { service: 'svc', id: 'stable', host: '10.0.0.1', port: 80 },
      { service: 'svc', id: 'gray', host: '10.0.0.2', port: 80, weight: 50, labels: GRAY },
    ],
    { fallback: { 'feature-x': 'gray' }, strict: ['blue'], balancer: 'random' },
  );
  discovery.pick('svc');
  discovery.pick('svc', 'gray');
  discovery.pick('svc', 'feature-x');
  assert.throws(() => discovery.pick('svc', 'blue'));
  const snapshot = discovery.snapshot();
  assert.deepEqual(JSON.parse(JSON.stringify(snapshot)), snapshot, 'survives JSON unchanged');
  assert.deepEqual(snapshot.config, {
    registry: 'static',
    laneLabels: DEFAULT_LANE_LABELS,
    fallback: { 'feature-x': 'gray' },
    strict: ['blue'],
    balancer: 'random',
  });
  const svc = snapshot.services.svc!;
  assert.equal(svc.loaded, true);
  assert.match(svc.updatedAt!, /^\d{4}-\d\d-\d\dT/);
  assert.equal(svc.lastError, null);
  assert.deepEqual(svc.lanes, [
    {
      lane: null,
      pickable: 1,
      ejected: 0,
      instances: [
        {
          id: 'stable',
          host: '10.0.0.1',
          port: 80,
          weight: 100,
          healthy: true,
          lane: null,
          laneLabel: null,
          unconfiguredLaneLabel: null,
          picks: 1,
          outstanding: 0,
        },
      ],
    },
    {
      lane: 'gray',
      pickable: 1,
      ejected: 0,
      instances: [
        {
          id: 'gray',
          host: '10.0.0.2',
          port: 80,
          weight: 50,
          healthy: true,
          lane: 'gray',
          laneLabel: 'alicloud.service.tag',
          unconfiguredLaneLabel: null,
          picks: 2,
          outstanding: 0,
        },
      ],
    },
  ]);
  const route = (lane: string | null) => svc.routes.find((r) => r.lane === lane);
  assert.deepEqual(route(null), { lane: null, servedBy: null, fallback: false, noInstance: 0 });
  assert.deepEqual(route('feature-x'), {
    lane: 'feature-x',
    servedBy: 'gray',
    fallback: true,
    reason: 'no-instance',
    noInstance: 0,
  });
  assert.deepEqual(route('blue'), { lane: 'blue', fallback: false, noInstance: 1 });
  assert.deepEqual(
    [...svc.counters.picks].sort((a, b) => String(a.from).localeCompare(String(b.from))),
    [
      { from: 'feature-x', to: 'gray', picks: 1, fallback: true, reason: 'no-instance' },
      { from: 'gray', to: 'gray', picks: 1, fallback: false },
      { from: null, to: null, picks: 1, fallback: false },
    ],
  );
  assert.deepEqual(svc.counters.fallbacks, [
    { from: 'feature-x', to: 'gray', picks: 1, fallback: true, reason: 'no-instance' },
  ]);
});
