// An instance whose lane label is misspelled silently became a base instance, so untagged traffic
// reached the instance meant to be gray (issue 16, item 3). Now it is warned once per instance
// with a stable code, and snapshot() shows each instance's lane, the label that gave it, and the
// label that looks like an unconfigured lane label.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createDiscovery,
  register,
  staticRegistry,
  UNCONFIGURED_LANE_LABEL_WARNING,
} from '@graylane/discovery';

test('a label that looks like a lane label is warned once per instance and shown in snapshot()', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === UNCONFIGURED_LANE_LABEL_WARNING) warnings.push(w);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const registry = staticRegistry({
    env: false,
    instances: [
      { service: 'b', id: 'b-stable', host: '127.0.0.1', port: 1 },
      { service: 'b', id: 'b-lane', host: '127.0.0.1', port: 2, labels: { lane: 'gray' } },
      { service: 'b', id: 'b-typo', host: '127.0.0.1', port: 3, labels: { 'alicloud.service.tags': 'gray' } },
      { service: 'b', id: 'b-case', host: '127.0.0.1', port: 4, labels: { asm_traffic_tag: 'gray' } },
      // On every Helm pod: not a lane label, no warning.
      {
        service: 'b',
        id: 'b-helm',
        host: '127.0.0.1',
        port: 5,
        labels: { 'app.kubernetes.io/version': '1.2.3' },
      },
      { service: 'b', id: 'b-gray', host: '127.0.0.1', port: 6, labels: { 'alicloud.service.tag': 'gray' } },
      {
        service: 'b',
        id: 'b-kruise',
        host: '127.0.0.1',
        port: 7,
        labels: { 'opensergo.io/canary-blue': 'blue' },
      },
    ],
  });
  const discovery = createDiscovery({ registry });
  t.after(async () => {
    discovery.close();
    await registry.close();
  });
  await discovery.ready('b');
  // A second update of the same service (another instance) warns nothing again.
  const extra = await register(registry, {
    service: 'b',
    port: 8,
    host: '127.0.0.1',
    labelsFile: false,
    lane: null,
  });
  t.after(() => extra.close());
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));

  const byId = new Map(
    discovery
      .snapshot()
      .services.b!.lanes.flatMap((bucket) => bucket.instances)
      .map((i) => [i.id, i]),
  );
  const view = (id: string) => {
    const i = byId.get(id)!;
    return [i.lane, i.laneLabel, i.unconfiguredLaneLabel];
  };
  assert.deepEqual(view('b-stable'), [null, null, null]);
  assert.deepEqual(view('b-lane'), [null, null, 'lane']);
  assert.deepEqual(view('b-typo'), [null, null, 'alicloud.service.tags']);
  assert.deepEqual(view('b-case'), [null, null, 'asm_traffic_tag']);
  assert.deepEqual(view('b-helm'), [null, null, null]);
  assert.deepEqual(view('b-gray'), ['gray', 'alicloud.service.tag', null]);
  assert.deepEqual(view('b-kruise'), ['blue', 'opensergo.io/canary-blue', null]);
  assert.equal(byId.size, 8, 'the registered instance arrived (a second update)');

  assert.deepEqual(
    warnings.map((w) => /instance (\S+) of service b/.exec(w.message)?.[1]).sort(),
    ['b-case', 'b-lane', 'b-typo'],
    'one warning per instance, not per update',
  );
  const lane = warnings.find((w) => w.message.includes('b-lane'))!;
  assert.match(lane.message, /label "lane: gray", which looks like a lane label/);
  assert.match(lane.message, /served as a BASE instance/);
  assert.match(lane.message, /Label it "alicloud\.service\.tag: gray", or add "lane" to laneLabels/);
});

test('configuring the label makes it the lane label: no warning', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === UNCONFIGURED_LANE_LABEL_WARNING) warnings.push(w);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const registry = staticRegistry({
    env: false,
    instances: [{ service: 'c', id: 'c-gray', host: '127.0.0.1', port: 2, labels: { lane: 'gray' } }],
  });
  const discovery = createDiscovery({ registry, laneLabels: ['lane'] });
  t.after(async () => {
    discovery.close();
    await registry.close();
  });
  await discovery.ready('c');
  await new Promise((resolve) => setImmediate(resolve));
  const [instance] = discovery.snapshot().services.c!.lanes.find((b) => b.lane === 'gray')!.instances;
  assert.equal(instance!.laneLabel, 'lane');
  assert.deepEqual(warnings, []);
});
