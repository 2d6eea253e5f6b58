import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { OutlierMessage } from '@graylane/discovery';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { channelMessages, GRAY, lane, setup, until } from './helpers';

const STABLE = [
  { service: 'svc', id: 's-1', host: '10.0.0.1', port: 80 },
  { service: 'svc', id: 's-2', host: '10.0.0.2', port: 80 },
];
const GRAYS = [
  { service: 'svc', id: 'g-1', host: '10.0.1.1', port: 80, labels: GRAY },
  { service: 'svc', id: 'g-2', host: '10.0.1.2', port: 80, labels: GRAY },
];

const outlierMessages = (t: TestContext) => channelMessages<OutlierMessage>(t, 'graylane:discovery:outlier');

test('consecutive connect failures eject an instance from its lane; snapshot and channel show it', async (t) => {
  const messages = outlierMessages(t);
  const { discovery } = await setup(t, [...STABLE, ...GRAYS], { outlier: { baseEjectionMs: 60_000 } });
  const g1 = discovery.instances('svc').find((i) => i.id === 'g-1')!;
  discovery.reportOutcome('svc', g1, 'connect-failure');
  discovery.reportOutcome('svc', g1, 'connect-failure');
  discovery.reportOutcome('svc', g1, 'success'); // a success breaks the streak
  discovery.reportOutcome('svc', g1, 'connect-failure');
  discovery.reportOutcome('svc', g1, 'timeout');
  assert.equal(messages.length, 0, 'two in a row are not three');
  discovery.reportOutcome('svc', g1, 'connect-failure');
  assert.equal(messages.length, 1);
  assert.deepEqual(
    { ...messages[0], instance: messages[0]!.instance.id },
    {
      event: 'ejected',
      service: 'svc',
      lane: 'gray',
      instance: 'g-1',
      reason: 'connect-failure',
      ejections: 1,
      durationMs: 60_000,
    },
  );
  for (let i = 0; i < 50; i++) assert.equal(discovery.pick('svc', 'gray').id, 'g-2');
  const svc = discovery.snapshot().services.svc!;
  const grayBucket = svc.lanes.find((l) => l.lane === 'gray')!;
  assert.equal(grayBucket.pickable, 1);
  assert.equal(grayBucket.ejected, 1);
  const g1Snapshot = grayBucket.instances.find((i) => i.id === 'g-1')!;
  assert.equal(g1Snapshot.outlier?.ejected, true);
  assert.equal(g1Snapshot.outlier?.ejections, 1);
  assert.equal(svc.counters.ejections, 1);
});

test('5xx counts only when consecutive5xx is set', async (t) => {
  const { discovery } = await setup(t, [...STABLE, ...GRAYS]);
  const g1 = discovery.instances('svc').find((i) => i.id === 'g-1')!;
  for (let i = 0; i < 20; i++) discovery.reportOutcome('svc', g1, 'server-error');
  assert.equal(discovery.snapshot().services.svc!.counters.ejections, 0);
  const on = await setup(t, [...STABLE, ...GRAYS], { outlier: { consecutive5xx: 2 } });
  const g = on.discovery.instances('svc').find((i) => i.id === 'g-1')!;
  on.discovery.reportOutcome('svc', g, 'server-error');
  on.discovery.reportOutcome('svc', g, 'server-error');
  assert.equal(on.discovery.snapshot().services.svc!.counters.ejections, 1);
});

test('a lane whose instances are all ejected falls back exactly as a lane with none, counted with its reason', async (t) => {
  const fallbacks = channelMessages<unknown>(t, 'graylane:discovery:fallback');
  const { discovery } = await setup(t, [...STABLE, GRAYS[0]!], { outlier: { consecutiveFailures: 1 } });
  const g1 = discovery.instances('svc').find((i) => i.id === 'g-1')!;
  discovery.reportOutcome('svc', g1, 'connect-failure');
  assert.match(discovery.pick('svc', 'gray').id, /^s-/);
  const svc = discovery.snapshot().services.svc!;
  assert.deepEqual(svc.counters.fallbacks, [
    { from: 'gray', to: null, picks: 1, fallback: true, reason: 'ejected' },
  ]);
  assert.equal(svc.routes.find((r) => r.lane === 'gray')?.reason, 'ejected');
  assert.deepEqual(fallbacks, [{ service: 'svc', lane: 'gray', servedLane: undefined, reason: 'ejected' }]);
  // Untagged traffic never reaches the gray lane, ejected or not.
  for (let i = 0; i < 10; i++) assert.match(discovery.pick('svc', null).id, /^s-/);

  // Strict: the typed error a lane with no instance gets.
  const strict = await setup(t, [...STABLE, GRAYS[0]!], {
    strict: true,
    outlier: { consecutiveFailures: 1 },
  });
  const sg = strict.discovery.instances('svc').find((i) => i.id === 'g-1')!;
  strict.discovery.reportOutcome('svc', sg, 'connect-failure');
  assert.throws(() => strict.discovery.pick('svc', 'gray'), { code: 'GL_ERR_NO_INSTANCE' });
});

test('an ejected instance returns after its ejection time, on probation; ejecting again takes longer', async (t) => {
  const messages = outlierMessages(t);
  const { discovery } = await setup(t, [...STABLE, ...GRAYS], {
    outlier: { consecutiveFailures: 2, baseEjectionMs: 150 },
  });
  const g1 = discovery.instances('svc').find((i) => i.id === 'g-1')!;
  discovery.reportOutcome('svc', g1, 'connect-failure');
  discovery.reportOutcome('svc', g1, 'connect-failure');
  assert.equal(messages.at(-1)?.event, 'ejected');
  await until(() => messages.at(-1)?.event === 'returned', 'the return');
  const picked = new Set(Array.from({ length: 20 }, () => discovery.pick('svc', 'gray').id));
  assert.deepEqual(picked, new Set(['g-1', 'g-2']), 'traffic again after the ejection time');
  const record = () =>
    discovery
      .snapshot()
      .services.svc!.lanes.find((l) => l.lane === 'gray')!
      .instances.find((i) => i.id === 'g-1')!.outlier!;
  assert.equal(record().probation, true);
  discovery.reportOutcome('svc', g1, 'timeout'); // one failure on probation ejects again
  assert.equal(messages.at(-1)?.event, 'ejected');
  assert.equal(messages.at(-1)?.durationMs, 300, 'second ejection: 2 x base');
  await until(() => messages.at(-1)?.event === 'returned', 'the second return');
  discovery.reportOutcome('svc', g1, 'success');
  assert.equal(record().probation, false, 'a success ends probation');
});

test('maxEjectionPercent caps the share of a lane ejected at once (one may always go)', async (t) => {
  const messages = outlierMessages(t);
  const { discovery } = await setup(t, [...STABLE, ...GRAYS], {
    outlier: { consecutiveFailures: 1, maxEjectionPercent: 50 },
  });
  for (const id of ['g-1', 'g-2']) {
    discovery.reportOutcome('svc', discovery.instances('svc').find((i) => i.id === id)!, 'connect-failure');
  }
  assert.deepEqual(
    messages.map((m) => [m.event, m.instance.id]),
    [
      ['ejected', 'g-1'],
      ['capped', 'g-2'],
    ],
  );
  assert.equal(discovery.pick('svc', 'gray').id, 'g-2');
  assert.equal(discovery.snapshot().services.svc!.counters.ejectionsCapped, 1);
});

test('chooseAgain: another instance of the same bucket, else the next fallback step, never what strict forbids', async (t) => {
  const { discovery } = await setup(
    t,
    [...STABLE, ...GRAYS, { service: 'svc', id: 'c-1', host: '10.0.2.1', port: 80, labels: lane('canary') }],
    {
      fallback: { 'feature-x': 'canary' },
    },
  );
  for (let i = 0; i < 20; i++) {
    const first = discovery.choose('svc', 'gray');
    const again = discovery.chooseAgain(first);
    assert.notEqual(again.instance.id, first.instance.id);
    assert.match(again.instance.id, /^g-/, 'same lane bucket');
  }
  // feature-x has no instance: served by canary (one instance); a retry goes to the next step, base.
  const first = discovery.choose('svc', 'feature-x');
  assert.equal(first.instance.id, 'c-1');
  const again = discovery.chooseAgain(first);
  assert.match(again.instance.id, /^s-/);
  discovery.countPick(again);
  assert.deepEqual(
    discovery.snapshot().services.svc!.counters.fallbacks.find((f) => f.reason === 'unreachable'),
    { from: 'feature-x', to: null, picks: 1, fallback: true, reason: 'unreachable' },
  );
  // Base never goes anywhere else.
  const registry = staticRegistry({ instances: [STABLE[0]!, GRAYS[0]!], env: false });
  const single = createDiscovery({ registry, strict: ['gray'] });
  t.after(async () => {
    await single.close();
    await registry.close();
  });
  assert.throws(() => single.chooseAgain(single.choose('svc', null)), { code: 'GL_ERR_NO_INSTANCE' });
  assert.throws(() => single.chooseAgain(single.choose('svc', 'gray')), { code: 'GL_ERR_NO_INSTANCE' });
});

test('outlier: false turns ejection off; bad outlier options are setup errors', async (t) => {
  const { discovery } = await setup(t, [...STABLE, ...GRAYS], { outlier: false });
  const g1 = discovery.instances('svc').find((i) => i.id === 'g-1')!;
  for (let i = 0; i < 10; i++) discovery.reportOutcome('svc', g1, 'connect-failure');
  assert.equal(discovery.snapshot().services.svc!.counters.ejections, 0);
  const registry = staticRegistry({ env: false });
  t.after(() => registry.close());
  for (const outlier of [{ consecutiveFailures: 0 }, { maxEjectionPercent: 101 }, { nope: 1 }, 'yes']) {
    assert.throws(() => createDiscovery({ registry, outlier: outlier as never }), {
      code: 'GL_ERR_INVALID_OPTION',
    });
  }
});

test('ejections are counted in the OpenTelemetry metric graylane.discovery.ejections', async (t) => {
  const { enableLaneObservability, LANE_METRICS } = await import('@graylane/core');
  const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
  class TestReader extends MetricReader {
    protected override async onShutdown(): Promise<void> {}
    protected override async onForceFlush(): Promise<void> {}
  }
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const observability = enableLaneObservability({ meter: provider.getMeter('test'), spanAttribute: false });
  t.after(() => observability.disable());
  const { discovery } = await setup(t, [...STABLE, ...GRAYS], { outlier: { consecutiveFailures: 1 } });
  discovery.reportOutcome('svc', discovery.instances('svc').find((i) => i.id === 'g-1')!, 'timeout');
  const { resourceMetrics } = await reader.collect();
  const points = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === LANE_METRICS.ejections)
    .flatMap((m) => m.dataPoints as Array<{ attributes: unknown; value: unknown }>);
  assert.equal(points.length, 1);
  assert.deepEqual(points[0]!.attributes, {
    'graylane.service': 'svc',
    'graylane.lane': 'gray',
    'graylane.reason': 'timeout',
  });
  assert.equal(points[0]!.value, 1);
});
