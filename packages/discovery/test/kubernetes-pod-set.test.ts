// The event-apply step of the Kubernetes registry (PodSet), driven without HTTP, and the replay
// property: the same event sequence gives the same instance set, whether it is applied through a
// live watch (with drops and a 410 relist in the middle), replayed from the log, or listed afresh.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Instance, RegistryUpdate } from '@graylane/discovery';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import {
  FakeKubeApiServer,
  type FakePod,
  loadKubeClient,
  parseLabelSelector,
  watchEventFor,
} from '../../../test/helpers/fake-kube-apiserver';
import { seeded } from '../../../test/helpers/random';
import { PodSet } from '../src/kubernetes/pod-set';
import { UpdateRecorder } from './registry-contract';

function pod(
  name: string,
  fields: { ip?: string; ready?: boolean; labels?: Record<string, string>; port?: number } = {},
) {
  return {
    metadata: { name, resourceVersion: '1', labels: fields.labels ?? { app: 'a' } },
    spec: { containers: [{ ports: [{ name: 'http', containerPort: fields.port ?? 8080 }] }] },
    status: {
      ...(fields.ip === undefined
        ? { podIP: `10.0.0.${name.length}` }
        : fields.ip
          ? { podIP: fields.ip }
          : {}),
      conditions: [{ type: 'Ready', status: fields.ready === false ? 'False' : 'True' }],
    },
  };
}

function summary(instances: readonly Instance[]): string[] {
  return instances.map(
    (i) => `${i.id}@${i.host}:${i.port}${i.healthy ? '' : '!'} ${JSON.stringify(i.labels)}`,
  );
}

test('apply: ADDED/MODIFIED/DELETED change the set; no-op changes and unknown deletes do not', () => {
  const set = new PodSet('http');
  assert.equal(set.apply('ADDED', pod('a-1', { ip: '10.0.0.1' })), true);
  assert.equal(set.apply('ADDED', pod('a-2', { ip: '10.0.0.2', ready: false })), true);
  const first = set.instances();
  assert.deepEqual(summary(first), ['a-1@10.0.0.1:8080 {"app":"a"}', 'a-2@10.0.0.2:8080! {"app":"a"}']);
  assert.equal(set.instances(), first, 'the snapshot is cached until a change');
  assert.equal(
    set.apply('MODIFIED', pod('a-1', { ip: '10.0.0.1' })),
    false,
    'nothing graylane reads changed',
  );
  assert.equal(set.instances(), first);
  assert.equal(set.apply('MODIFIED', pod('a-2', { ip: '10.0.0.2' })), true, 'a-2 became ready');
  const second = set.instances();
  assert.notEqual(second, first);
  assert.equal(second[0], first[0], 'a-1 kept its object');
  assert.equal(second[1]!.healthy, true);
  assert.equal(set.apply('DELETED', pod('a-9')), false, 'unknown Pod');
  assert.equal(set.apply('MODIFIED', pod('a-1', { ip: null as unknown as string })), true, 'lost its IP');
  assert.equal(set.apply('DELETED', pod('a-2')), true);
  assert.deepEqual(set.instances(), []);
  assert.equal(set.apply('ADDED', { metadata: {} }), false, 'a Pod without a name is ignored');
  assert.equal(set.apply('ADDED', { metadata: { name: 'x' } }), false, 'nor one without an IP');
  assert.equal(set.size, 0);
});

test('readiness: Ready=True and no deletionTimestamp (string from a watch, Date from a list)', () => {
  const set = new PodSet(undefined);
  const terminatingJson = {
    ...pod('t-1', { ip: '10.0.0.1' }),
    metadata: { name: 't-1', deletionTimestamp: '2024-01-01T00:00:00Z' },
  };
  const terminatingTyped = {
    ...pod('t-2', { ip: '10.0.0.2' }),
    metadata: { name: 't-2', deletionTimestamp: new Date() },
  };
  const noConditions = { metadata: { name: 't-3' }, spec: pod('x').spec, status: { podIP: '10.0.0.3' } };
  set.replace([terminatingJson, terminatingTyped, noConditions, pod('t-4', { ip: '10.0.0.4' })]);
  assert.deepEqual(
    set.instances().map((i) => `${i.id}:${i.healthy}`),
    ['t-1:false', 't-2:false', 't-3:false', 't-4:true'],
  );
});

test('ports: by name, by number, default the first declared one; Pods without the port are skipped', () => {
  const twoPorts = {
    metadata: { name: 'p' },
    spec: {
      containers: [
        { ports: null },
        {
          ports: [
            { name: 'grpc', containerPort: 50051 },
            { name: 'http', containerPort: 8080 },
          ],
        },
      ],
    },
    status: { podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
  const byName = new PodSet('http');
  byName.apply('ADDED', twoPorts);
  assert.equal(byName.instances()[0]!.port, 8080);
  const byDefault = new PodSet(undefined);
  byDefault.apply('ADDED', twoPorts);
  assert.equal(byDefault.instances()[0]!.port, 50051);
  const byNumber = new PodSet(9000);
  byNumber.apply('ADDED', { ...twoPorts, spec: { containers: [] } });
  assert.equal(byNumber.instances()[0]!.port, 9000, 'a number needs no declared port');
  const missing = new PodSet('metrics');
  assert.equal(missing.apply('ADDED', twoPorts), false);
  assert.equal(missing.size, 0);
});

test('replace (a relist) drops what is gone, keeps unchanged objects, shares equal label sets', () => {
  const set = new PodSet('http');
  set.replace([
    pod('a-1', { ip: '10.0.0.1' }),
    pod('a-2', { ip: '10.0.0.2' }),
    pod('a-3', { ip: '10.0.0.3' }),
  ]);
  const before = set.instances();
  assert.equal(before[0]!.labels, before[1]!.labels, 'Pods of one ReplicaSet share one frozen label object');
  assert.equal(Object.isFrozen(before[0]!.labels), true);
  assert.equal(
    set.replace([
      pod('a-1', { ip: '10.0.0.1' }),
      pod('a-2', { ip: '10.0.0.2' }),
      pod('a-3', { ip: '10.0.0.3' }),
    ]),
    false,
  );
  assert.equal(set.instances(), before, 'an identical relist changes nothing');
  assert.equal(set.replace([pod('a-3', { ip: '10.0.0.3' }), pod('a-1', { ip: '10.0.0.1' })]), true);
  const after = set.instances();
  assert.deepEqual(
    after.map((i) => i.id),
    ['a-1', 'a-3'],
  );
  assert.equal(after[0], before[0]);
  assert.equal(after[1], before[2]);
});

test('label-set churn (a new pod-template-hash per Pod) keeps each instance with its own labels', () => {
  const set = new PodSet('http');
  for (let round = 0; round < 200; round++) {
    set.apply(
      'ADDED',
      pod(`p-${round}`, { ip: `10.1.${round >> 8}.${round & 255}`, labels: { app: 'a', hash: `h${round}` } }),
    );
    if (round >= 3) set.apply('DELETED', pod(`p-${round - 3}`));
  }
  assert.equal(set.size, 3);
  const live = set.instances();
  assert.deepEqual(
    live.map((i) => i.labels.hash),
    ['h197', 'h198', 'h199'],
  );
});

function replay(fake: FakeKubeApiServer, selector: string): readonly Instance[] {
  const parsed = parseLabelSelector(selector);
  const set = new PodSet('http');
  for (const event of fake.events) {
    const line = watchEventFor(event, 'default', parsed);
    if (line) set.apply(line.type as 'ADDED' | 'MODIFIED' | 'DELETED', line.object);
  }
  return set.instances();
}

test('the same event sequence gives the same set: live watch (with drops and a 410), log replay, fresh list', async (t) => {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start({}, t);
  fake.putService('a', { app: 'a' });
  const registry = kubernetesRegistry({
    kubeConfig: fake.kubeConfig(k8s.KubeConfig),
    services: { a: { port: 'http' } },
    retryInitialMs: 10,
    retryMaxMs: 100,
  });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('a', recorder.listener));
  await recorder.waitFor((u) => u.ok, 5000, 'the first set');
  await fake.waitForWatches(1);

  const random = seeded(20240611);
  const names = Array.from({ length: 12 }, (_, i) => `p-${i}`);
  const lanes = [undefined, 'gray', 'feature-x'];
  for (let step = 0; step < 240; step++) {
    const name = names[Math.floor(random() * names.length)]!;
    const exists = fake.getPod(name) !== undefined;
    const roll = random();
    const lane = lanes[Math.floor(random() * lanes.length)];
    const labels: Record<string, string> = { app: random() < 0.85 ? 'a' : 'other' };
    if (lane) labels['alicloud.service.tag'] = lane;
    if (!exists) fake.addPod({ name, labels, ready: random() < 0.7, ip: random() < 0.1 ? null : undefined });
    else if (roll < 0.3) fake.setReady(name, random() < 0.5);
    else if (roll < 0.45) fake.setLabels(name, labels);
    else if (roll < 0.55) fake.terminate(name);
    else if (roll < 0.8) fake.deletePod(name);
    else
      fake.updatePod(name, (p: FakePod) => {
        p.status.podIP = `10.9.${step >> 8}.${step & 255}`;
      });
    if (step === 80) fake.dropWatches();
    if (step === 160) {
      // Down, compacted, back: the client must relist to catch up.
      fake.refuse.watch = 503;
      fake.dropWatches();
      await recorder.waitFor((u) => !u.ok, 5000, 'the refused watch');
    }
    if (step === 200) {
      fake.compact();
      fake.refuse.watch = undefined;
    }
    if (step % 40 === 39) await new Promise((r) => setImmediate(r));
  }

  const once = replay(fake, 'app=a');
  const twice = replay(fake, 'app=a');
  assert.deepEqual(summary(twice), summary(once), 'replaying the log twice gives the same set');
  const listed = new PodSet('http');
  listed.replace(
    [...Array(names.length).keys()]
      .map((i) => fake.getPod(`p-${i}`))
      .filter((p): p is FakePod => p !== undefined && p.metadata.labels?.app === 'a'),
  );
  assert.deepEqual(summary(listed.instances()), summary(once), 'a fresh list gives the same set');
  assert.ok(once.length > 0, 'the sequence leaves some instances (the comparison is not vacuous)');

  const want = summary(once).join('\n');
  const live = await recorder.waitFor(
    (u: RegistryUpdate) => u.ok && summary(u.instances).join('\n') === want,
    5000,
    'the live registry to reach the replayed set',
  );
  assert.ok(live.ok);
  assert.ok(fake.requestsOf('list').length >= 2, 'the sequence did force a relist');
});
