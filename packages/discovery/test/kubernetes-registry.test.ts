import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDiscovery, type Registry, type RegistryUpdate } from '@graylane/discovery';
import { type KubernetesRegistryOptions, kubernetesRegistry } from '@graylane/discovery/kubernetes';
import { FakeKubeApiServer, loadKubeClient } from '../../../test/helpers/fake-kube-apiserver';
import { UpdateRecorder } from './registry-contract';

const WAIT_MS = 5000;
// Small retry delays keep the reconnect tests fast; production defaults are 500 ms .. 30 s.
const FAST = { retryInitialMs: 20, retryMaxMs: 200 } as const;

/** `id@host:port` per instance, sorted, with `!` for an unhealthy one; undefined for a failure. */
function view(update: RegistryUpdate): string[] | undefined {
  if (!update.ok) return undefined;
  return update.instances.map((i) => `${i.id}@${i.host}:${i.port}${i.healthy ? '' : '!'}`).sort();
}

function is(expected: string[]) {
  const want = [...expected].sort().join(' ');
  return (update: RegistryUpdate) => update.ok && view(update)!.join(' ') === want;
}

const failed = (update: RegistryUpdate) => !update.ok;

async function setup(
  t: { after(fn: () => Promise<void> | void): void },
  options: Partial<KubernetesRegistryOptions> = {},
) {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start();
  const registry = kubernetesRegistry({
    kubeConfig: fake.kubeConfig(k8s.KubeConfig),
    services: {},
    ...FAST,
    ...options,
  });
  t.after(async () => {
    await registry.close();
    await fake.close();
  });
  return { k8s, fake, registry };
}

function subscribe(t: { after(fn: () => void): void }, registry: Registry, service: string): UpdateRecorder {
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe(service, recorder.listener));
  return recorder;
}

test('malformed options fail at setup with GL_ERR_INVALID_OPTION', () => {
  const bad: Array<[unknown, string]> = [
    [undefined, 'kubernetesRegistry'],
    [{}, 'services'],
    [{ services: { a: 'x' } }, 'services.a'],
    [{ services: { a: { port: 0 } } }, 'services.a.port'],
    [{ services: { a: { port: 'HTTP' } } }, 'services.a.port'],
    [{ services: { a: { port: 'this-name-is-too-long' } } }, 'services.a.port'],
    [{ services: { a: { selector: {} } } }, 'services.a.selector'],
    [{ services: { a: { selector: { app: 'bad value!' } } } }, 'services.a.selector.app'],
    [{ services: { a: { selector: ' ' } } }, 'services.a.selector'],
    [{ services: { a: { namespace: 'Bad_NS' } } }, 'services.a.namespace'],
    [{ services: {}, namespace: '' }, 'namespace'],
    [{ services: {}, kubeConfig: {} }, 'kubeConfig'],
    [{ services: {}, pageSize: 0 }, 'pageSize'],
    [{ services: {}, retryInitialMs: 100, retryMaxMs: 10 }, 'retryMaxMs'],
  ];
  for (const [options, path] of bad) {
    assert.throws(
      () => kubernetesRegistry(options as KubernetesRegistryOptions),
      (error: { code?: string; path?: string }) =>
        error.code === 'GL_ERR_INVALID_OPTION' && error.path === path,
      `expected GL_ERR_INVALID_OPTION at ${path} for ${JSON.stringify(options)}`,
    );
  }
});

test('register() is refused with GL_ERR_REGISTRATION_UNSUPPORTED saying Kubernetes registers Pods', async (t) => {
  const { registry } = await setup(t);
  await assert.rejects(
    registry.register({ service: 'a', host: '10.0.0.1', port: 8080 }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'GL_ERR_REGISTRATION_UNSUPPORTED');
      assert.equal(error.name, 'RegistrationUnsupportedError');
      assert.match(error.message, /Kubernetes registers Pods itself/);
      return true;
    },
  );
});

test("the Service's selector picks the Pods: pod IP + named port, labels, readiness; no-IP and no-port Pods skipped", async (t) => {
  const { fake, registry } = await setup(t, { services: { a: { port: 'http' } } });
  fake.putService('a', { app: 'a' });
  fake.addPod({
    name: 'a-1',
    labels: { app: 'a' },
    ip: '10.1.0.1',
    ports: [{ name: 'http', containerPort: 8080 }],
  });
  fake.addPod({
    name: 'a-2',
    labels: { app: 'a', 'alicloud.service.tag': 'gray' },
    ip: '10.1.0.2',
    ready: false,
    ports: [
      { name: 'metrics', containerPort: 9090 },
      { name: 'http', containerPort: 8081 },
    ],
  });
  fake.addPod({ name: 'a-3', labels: { app: 'a' }, ip: null });
  fake.addPod({ name: 'a-4', labels: { app: 'a' }, ports: [{ name: 'metrics', containerPort: 9090 }] });
  fake.addPod({ name: 'b-1', labels: { app: 'b' } });

  const recorder = subscribe(t, registry, 'a');
  const update = await recorder.waitFor(
    is(['a-1@10.1.0.1:8080', 'a-2@10.1.0.2:8081!']),
    WAIT_MS,
    'a-1 and a-2',
  );
  assert.ok(update.ok);
  const gray = update.instances.find((i) => i.id === 'a-2')!;
  assert.deepEqual(gray.labels, { app: 'a', 'alicloud.service.tag': 'gray' });
  assert.equal(gray.weight, 100);
  assert.equal(Object.isFrozen(gray), true);
  assert.equal(Object.isFrozen(gray.labels), true);
  assert.equal(Object.isFrozen(update.instances), true);

  assert.equal(fake.requestsOf('service')[0]?.path, '/api/v1/namespaces/default/services/a');
  const list = fake.requestsOf('list')[0]!;
  assert.equal(list.query.labelSelector, 'app=a');
  await fake.waitForWatches(1);
  const watch = fake.requestsOf('watch')[0]!;
  assert.equal(watch.query.labelSelector, 'app=a');
  assert.equal(watch.query.resourceVersion, String(fake.resourceVersion), "the list's resourceVersion");
  assert.equal(watch.query.allowWatchBookmarks, 'true');
});

test('an explicit selector (map or string) needs no Service; a numeric port is used as is, default is the first port', async (t) => {
  const { fake, registry } = await setup(t, {
    namespace: 'shop',
    services: { x: { selector: { app: 'x' }, port: 9000 }, y: { selector: 'app in (y),tier!=db' } },
  });
  fake.addPod({ name: 'x-1', namespace: 'shop', labels: { app: 'x' }, ip: '10.2.0.1' });
  fake.addPod({ name: 'x-0', namespace: 'default', labels: { app: 'x' }, ip: '10.2.0.9' });
  fake.addPod({
    name: 'y-1',
    namespace: 'shop',
    labels: { app: 'y' },
    ip: '10.2.0.2',
    ports: [
      { name: 'grpc', containerPort: 50051 },
      { name: 'http', containerPort: 8080 },
    ],
  });
  fake.addPod({ name: 'y-db', namespace: 'shop', labels: { app: 'y', tier: 'db' }, ip: '10.2.0.3' });
  const x = subscribe(t, registry, 'x');
  const y = subscribe(t, registry, 'y');
  await x.waitFor(is(['x-1@10.2.0.1:9000']), WAIT_MS, 'x-1 on port 9000');
  await y.waitFor(is(['y-1@10.2.0.2:50051']), WAIT_MS, 'y-1 on its first port');
  assert.equal(fake.requestsOf('service').length, 0, 'explicit selectors do not read Services');
  assert.ok(fake.requestsOf('list').every((r) => r.path === '/api/v1/namespaces/shop/pods'));
});

test('Pods appearing, going unready, terminating, leaving the selector and deleted change the delivered set', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: { port: 'http' } } });
  fake.putService('a', { app: 'a' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.3.0.1' });
  const recorder = subscribe(t, registry, 'a');
  await recorder.waitFor(is(['a-1@10.3.0.1:8080']), WAIT_MS, 'a-1');

  fake.addPod({ name: 'a-2', labels: { app: 'a' }, ip: '10.3.0.2' });
  await recorder.waitFor(is(['a-1@10.3.0.1:8080', 'a-2@10.3.0.2:8080']), WAIT_MS, 'a-2 appears');
  fake.setReady('a-1', false);
  await recorder.waitFor(is(['a-1@10.3.0.1:8080!', 'a-2@10.3.0.2:8080']), WAIT_MS, 'a-1 unready');
  fake.setReady('a-1', true);
  await recorder.waitFor(is(['a-1@10.3.0.1:8080', 'a-2@10.3.0.2:8080']), WAIT_MS, 'a-1 ready again');
  fake.terminate('a-2');
  await recorder.waitFor(is(['a-1@10.3.0.1:8080', 'a-2@10.3.0.2:8080!']), WAIT_MS, 'a-2 terminating');
  fake.deletePod('a-2');
  await recorder.waitFor(is(['a-1@10.3.0.1:8080']), WAIT_MS, 'a-2 deleted');
  fake.setLabels('a-1', { app: 'retired' });
  await recorder.waitFor(is([]), WAIT_MS, 'a-1 left the selector');
  fake.addPod({ name: 'a-3', labels: { app: 'a' }, ip: null });
  fake.updatePod('a-3', (pod) => {
    pod.status.podIP = '10.3.0.3';
  });
  await recorder.waitFor(is(['a-3@10.3.0.3:8080']), WAIT_MS, 'a-3 got an IP');
  // A status change that touches nothing graylane reads is not delivered.
  const before = recorder.updates.length;
  fake.updatePod('a-3', (pod) => {
    pod.status.phase = 'Running';
    pod.status.conditions.push({ type: 'ContainersReady', status: 'True' });
  });
  fake.addPod({ name: 'a-4', labels: { app: 'a' }, ip: '10.3.0.4' });
  await recorder.waitFor(is(['a-3@10.3.0.3:8080', 'a-4@10.3.0.4:8080']), WAIT_MS, 'a-4');
  assert.equal(recorder.updates.length, before + 1, 'the no-op status change was not delivered');
  assert.equal(fake.requestsOf('list').length, 1, 'all of it came through one watch, no relist');
});

test("a watch event updates only its own service's set", async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {}, b: {} } });
  fake.putService('a', { app: 'a' });
  fake.putService('b', { app: 'b' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.4.0.1' });
  fake.addPod({ name: 'b-1', labels: { app: 'b' }, ip: '10.4.1.1' });
  const a = subscribe(t, registry, 'a');
  const b = subscribe(t, registry, 'b');
  await a.waitFor(is(['a-1@10.4.0.1:8080']), WAIT_MS, 'a');
  await b.waitFor(is(['b-1@10.4.1.1:8080']), WAIT_MS, 'b');
  const seenByB = b.updates.length;
  const firstA = a.updates.at(-1)!;
  for (let i = 2; i <= 6; i++) fake.addPod({ name: `a-${i}`, labels: { app: 'a' }, ip: `10.4.0.${i}` });
  fake.setReady('a-1', false);
  await a.waitFor((u) => u.ok && u.instances.length === 6 && !u.instances[0]!.healthy, WAIT_MS, 'six a Pods');
  assert.equal(b.updates.length, seenByB, "b's subscriber saw none of a's events");
  const before = a.updates.at(-1)!;
  assert.ok(firstA.ok && before.ok);
  assert.notEqual(before.instances[0], firstA.instances[0], 'a-1 changed, so it is a new object');
  // Unchanged instances keep their identity across updates: only the touched entry is rebuilt.
  fake.setReady('a-2', false);
  const after = await a.waitFor((u) => u.ok && !u.instances[1]!.healthy, WAIT_MS, 'a-2 unready');
  assert.ok(after.ok);
  for (let i = 2; i < 6; i++)
    assert.equal(after.instances[i], before.instances[i], `${before.instances[i]!.id} reused`);
  assert.equal(b.updates.length, seenByB);
});

for (const goneAs of ['event', 'status'] as const) {
  test(`410 Gone (${goneAs === 'event' ? 'ERROR event' : 'HTTP 410'}) after compaction -> relist; nothing deleted meanwhile survives`, async (t) => {
    const { fake, registry } = await setup(t, { services: { a: {} } });
    fake.goneAs = goneAs;
    fake.putService('a', { app: 'a' });
    fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.5.0.1' });
    fake.addPod({ name: 'a-2', labels: { app: 'a' }, ip: '10.5.0.2' });
    const recorder = subscribe(t, registry, 'a');
    await recorder.waitFor(is(['a-1@10.5.0.1:8080', 'a-2@10.5.0.2:8080']), WAIT_MS, 'a-1, a-2');
    await fake.waitForWatches(1);
    const resumeFrom = Number(fake.requestsOf('watch').at(-1)!.query.resourceVersion);

    // The watch goes down and stays down while a-1 is deleted and history is compacted.
    fake.refuse.watch = 503;
    fake.dropWatches();
    await recorder.waitFor(failed, WAIT_MS, 'the refused re-watch reported');
    fake.deletePod('a-1');
    fake.addPod({ name: 'a-3', labels: { app: 'a' }, ip: '10.5.0.3' });
    fake.setReady('a-2', false);
    fake.compact();
    assert.ok(resumeFrom < fake.compactedResourceVersion);
    const listsBefore = fake.requestsOf('list').length;
    const watchedFrom: string[] = [];
    fake.beforeRequest = (request) => {
      if (request.kind === 'watch') watchedFrom.push(request.query.resourceVersion ?? '');
    };
    fake.refuse.watch = undefined;

    const update = await recorder.waitFor(
      is(['a-2@10.5.0.2:8080!', 'a-3@10.5.0.3:8080']),
      WAIT_MS,
      'the relisted set without a-1',
    );
    assert.ok(update.ok);
    assert.ok(!update.instances.some((i) => i.id === 'a-1'), 'no stale instance');
    assert.equal(fake.requestsOf('list').length, listsBefore + 1, 'exactly one relist');
    await fake.waitForWatches(1);
    // First from the old (compacted) resourceVersion -> 410; then from the relist's, which works.
    assert.deepEqual(watchedFrom, [String(resumeFrom), String(fake.resourceVersion)]);
    fake.addPod({ name: 'a-4', labels: { app: 'a' }, ip: '10.5.0.4' });
    await recorder.waitFor(
      is(['a-2@10.5.0.2:8080!', 'a-3@10.5.0.3:8080', 'a-4@10.5.0.4:8080']),
      WAIT_MS,
      'a-4 through the new watch',
    );
  });
}

test('a dropped watch reconnects from its last resourceVersion without relisting', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {} } });
  fake.putService('a', { app: 'a' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.6.0.1' });
  const recorder = subscribe(t, registry, 'a');
  await recorder.waitFor(is(['a-1@10.6.0.1:8080']), WAIT_MS, 'a-1');
  await fake.waitForWatches(1);
  fake.addPod({ name: 'a-2', labels: { app: 'a' }, ip: '10.6.0.2' });
  await recorder.waitFor(is(['a-1@10.6.0.1:8080', 'a-2@10.6.0.2:8080']), WAIT_MS, 'a-2');
  const lastSeen = String(fake.resourceVersion);

  assert.equal(fake.dropWatches(), 1);
  fake.addPod({ name: 'a-3', labels: { app: 'a' }, ip: '10.6.0.3' });
  await recorder.waitFor(
    is(['a-1@10.6.0.1:8080', 'a-2@10.6.0.2:8080', 'a-3@10.6.0.3:8080']),
    WAIT_MS,
    'a-3, added while the watch was down',
  );
  const watches = fake.requestsOf('watch');
  assert.equal(watches.length, 2);
  assert.equal(watches[1]!.query.resourceVersion, lastSeen, 'resumed from the last event it saw');
  assert.equal(fake.requestsOf('list').length, 1, 'no relist');
  assert.ok(!recorder.updates.some(failed), 'a healthy watch that drops is not a failure');

  // A watch the server ends cleanly (its timeoutSeconds) is reopened the same way.
  assert.equal(fake.endWatches(), 1);
  await fake.waitForWatches(1);
  fake.deletePod('a-1');
  await recorder.waitFor(is(['a-2@10.6.0.2:8080', 'a-3@10.6.0.3:8080']), WAIT_MS, 'a-1 deleted');
  assert.equal(fake.requestsOf('list').length, 1);
});

test('watchTimeoutSeconds is sent and the watch is reopened when the server ends it', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {} }, watchTimeoutSeconds: 1 });
  fake.putService('a', { app: 'a' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.6.1.1' });
  const recorder = subscribe(t, registry, 'a');
  await recorder.waitFor(is(['a-1@10.6.1.1:8080']), WAIT_MS, 'a-1');
  const deadline = Date.now() + WAIT_MS;
  while (fake.requestsOf('watch').length < 2 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const watches = fake.requestsOf('watch');
  assert.ok(watches.length >= 2, 'reopened after the server-side timeout');
  assert.ok(watches.every((w) => w.query.timeoutSeconds === '1'));
  assert.equal(fake.requestsOf('list').length, 1);
});

for (const withBookmark of [true, false]) {
  test(`bookmarks advance the resume resourceVersion (${withBookmark ? 'bookmark: no relist' : 'no bookmark: relist'})`, async (t) => {
    const { fake, registry } = await setup(t, { services: { a: {} } });
    fake.putService('a', { app: 'a' });
    fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.7.0.1' });
    const recorder = subscribe(t, registry, 'a');
    await recorder.waitFor(is(['a-1@10.7.0.1:8080']), WAIT_MS, 'a-1');
    await fake.waitForWatches(1);
    // Other Pods churn: the resourceVersion moves on, but nothing reaches a's watch.
    for (let i = 0; i < 5; i++) fake.addPod({ name: `z-${i}`, labels: { app: 'z' } });
    const now = fake.resourceVersion;
    if (withBookmark) assert.equal(fake.bookmark(), 1);
    fake.compact();
    fake.endWatches(); // the stream is ordered: the client reads the bookmark before the end
    await fake.waitForWatches(1);
    const resumed = fake.requestsOf('watch').find((r, i) => i > 0 && r.query.resourceVersion !== undefined)!;
    if (withBookmark) {
      assert.equal(resumed.query.resourceVersion, String(now), 'resumed from the bookmark');
      assert.equal(fake.requestsOf('list').length, 1, 'no relist needed');
    } else {
      assert.ok(Number(resumed.query.resourceVersion) < now, 'resumed from the last Pod event');
      await recorder.waitFor(is(['a-1@10.7.0.1:8080']), WAIT_MS, 'set after relist');
      const deadline = Date.now() + WAIT_MS;
      while (fake.requestsOf('list').length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(fake.requestsOf('list').length, 2, 'the 410 forced a relist');
    }
    fake.addPod({ name: 'a-2', labels: { app: 'a' }, ip: '10.7.0.2' });
    await recorder.waitFor(is(['a-1@10.7.0.1:8080', 'a-2@10.7.0.2:8080']), WAIT_MS, 'a-2');
  });
}

test('lists page through limit/continue and restart when a continue token expires', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {} }, pageSize: 2 });
  fake.putService('a', { app: 'a' });
  for (let i = 1; i <= 5; i++) fake.addPod({ name: `a-${i}`, labels: { app: 'a' }, ip: `10.8.0.${i}` });
  let expired = false;
  fake.beforeRequest = (request) => {
    if (!expired && request.kind === 'list' && request.query.continue) {
      expired = true;
      fake.addPod({ name: 'a-6', labels: { app: 'a' }, ip: '10.8.0.6' });
      fake.compact(); // the first page's snapshot is gone: this continue gets 410 Expired
    }
  };
  const recorder = subscribe(t, registry, 'a');
  await recorder.waitFor((u) => u.ok && u.instances.length === 6, WAIT_MS, 'all six Pods');
  const lists = fake.requestsOf('list');
  assert.ok(lists.every((r) => r.query.limit === '2'));
  // page 1, expired continue, then pages 1..3 again of the fresh list
  assert.deepEqual(
    lists.map((r) => (r.query.continue ? 'continue' : 'first')),
    ['first', 'continue', 'first', 'continue', 'continue'],
  );
  assert.equal(recorder.updates.filter(failed).length, 0, 'an expired continue token is not a failure');
});

test('a missing Service or one without a selector is reported, and picked up once fixed', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {} } });
  const recorder = subscribe(t, registry, 'a');
  const missing = await recorder.waitFor(failed, WAIT_MS, 'the missing Service reported');
  assert.ok(!missing.ok);
  assert.equal((missing.error as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  assert.match(missing.error.message, /Service default\/a not found/);
  fake.putService('a', undefined);
  await recorder.waitFor(
    (u) => !u.ok && /has no selector; set services\.a\.selector/.test(u.error.message),
    WAIT_MS,
    'selector-less Service reported',
  );
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.9.0.1' });
  fake.putService('a', { app: 'a' });
  await recorder.waitFor(is(['a-1@10.9.0.1:8080']), WAIT_MS, 'recovered');
});

test('wrong credentials are reported as GL_ERR_REGISTRY_UNAVAILABLE with the 401', async (t) => {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start({ token: 'the-right-token' }, t);
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: fake.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'a-wrong-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const registry = kubernetesRegistry({ kubeConfig, services: { a: { selector: { app: 'a' } } }, ...FAST });
  t.after(() => registry.close());
  const recorder = subscribe(t, registry, 'a');
  const update = await recorder.waitFor(failed, WAIT_MS, 'the 401 reported');
  assert.ok(!update.ok);
  assert.equal((update.error as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  assert.match(update.error.message, /401/);
});

test('failures keep the last good set: late subscribers get it, not the failure', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {} } });
  fake.putService('a', { app: 'a' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.10.0.1' });
  const first = subscribe(t, registry, 'a');
  await first.waitFor(is(['a-1@10.10.0.1:8080']), WAIT_MS, 'a-1');
  fake.refuse.watch = 503;
  fake.dropWatches();
  await first.waitFor(failed, WAIT_MS, 'the failure');
  const late = subscribe(t, registry, 'a');
  const update = await late.waitFor(() => true, WAIT_MS, 'a first delivery');
  assert.deepEqual(view(update), ['a-1@10.10.0.1:8080']);
  // Once the watch is back, subscribers hear it: the (unchanged) set is delivered again.
  const failures = first.updates.filter(failed).length;
  fake.refuse.watch = undefined;
  await first.waitFor((u) => u.ok, WAIT_MS, 'the set again after recovery');
  assert.ok(failures > 0);
  assert.deepEqual(view(first.updates.at(-1)!), ['a-1@10.10.0.1:8080']);
  assert.equal(fake.requestsOf('list').length, 1, 'recovered without a relist');
});

test('a throwing listener neither stops the others nor the watch; it is published on graylane:registry:error', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {} } });
  fake.putService('a', { app: 'a' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.11.0.1' });
  const published: unknown[] = [];
  const onError = (message: unknown) => published.push(message);
  diagnosticsChannel.subscribe('graylane:registry:error', onError);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:registry:error', onError));
  t.after(
    registry.subscribe('a', () => {
      throw new Error('listener bug');
    }),
  );
  const recorder = subscribe(t, registry, 'a');
  await recorder.waitFor(is(['a-1@10.11.0.1:8080']), WAIT_MS, 'a-1');
  fake.addPod({ name: 'a-2', labels: { app: 'a' }, ip: '10.11.0.2' });
  await recorder.waitFor(is(['a-1@10.11.0.1:8080', 'a-2@10.11.0.2:8080']), WAIT_MS, 'a-2');
  const mine = published.filter((m) => (m as { registry?: string }).registry === 'kubernetes');
  assert.ok(mine.length >= 2);
  assert.equal((mine[0] as { service: string }).service, 'a');
  assert.equal(((mine[0] as { error: Error }).error as Error).message, 'listener bug');
});

test('unsubscribing the last listener ends the watch; close() ends everything and nothing more is delivered', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: {}, b: {} } });
  fake.putService('a', { app: 'a' });
  fake.putService('b', { app: 'b' });
  fake.addPod({ name: 'a-1', labels: { app: 'a' }, ip: '10.12.0.1' });
  const a = new UpdateRecorder();
  const unsubscribeA = registry.subscribe('a', a.listener);
  const b = subscribe(t, registry, 'b');
  await a.waitFor(is(['a-1@10.12.0.1:8080']), WAIT_MS, 'a');
  await b.waitFor(is([]), WAIT_MS, 'b (empty)');
  await fake.waitForWatches(2);
  unsubscribeA();
  unsubscribeA();
  const deadline = Date.now() + WAIT_MS;
  while (fake.openWatches > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(fake.openWatches, 1, "a's watch ended");

  fake.refuse.watch = 503; // if anything were still retrying, it would show up as requests
  await registry.close();
  await registry.close();
  const seen = b.updates.length;
  const requests = fake.requests.length;
  fake.addPod({ name: 'b-1', labels: { app: 'b' }, ip: '10.12.1.1' });
  const off = registry.subscribe('b', () => assert.fail('delivered after close'));
  await new Promise((r) => setTimeout(r, 300));
  off();
  assert.equal(fake.openWatches, 0, 'no watch left open');
  assert.equal(b.updates.length, seen, 'no delivery after close');
  assert.equal(fake.requests.length, requests, 'no request after close');
});

test('picks through createDiscovery follow Pods: gray lane, fallback to stable, unready / terminating / deleted', async (t) => {
  const { fake, registry } = await setup(t, { services: { a: { port: 'http' }, b: { port: 'http' } } });
  fake.putService('a', { app: 'a' });
  fake.putService('b', { app: 'b' });
  fake.addPod({ name: 'a-stable-1', labels: { app: 'a' }, ip: '10.13.0.1' });
  fake.addPod({ name: 'a-gray-1', labels: { app: 'a', 'alicloud.service.tag': 'gray' }, ip: '10.13.0.2' });
  fake.addPod({ name: 'b-stable-1', labels: { app: 'b' }, ip: '10.13.1.1' });
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  await discovery.ready('a', { timeoutMs: WAIT_MS });
  await discovery.ready('b', { timeoutMs: WAIT_MS });
  const sets = new UpdateRecorder();
  t.after(discovery.watch('a', (instances) => sets.listener({ ok: true, instances })));
  const pickA = (lane: string | null) => discovery.pick('a', lane).id;

  assert.equal(pickA('gray'), 'a-gray-1');
  assert.equal(pickA(null), 'a-stable-1', 'untagged traffic never reaches the gray Pod');
  assert.equal(discovery.pick('b', 'gray').id, 'b-stable-1', 'no gray b: falls back to stable b');

  fake.setReady('a-gray-1', false);
  await sets.waitFor(
    (u) => u.ok && u.instances.some((i) => i.id === 'a-gray-1' && !i.healthy),
    WAIT_MS,
    'unready',
  );
  assert.equal(pickA('gray'), 'a-stable-1', 'an unready gray Pod is not picked');
  fake.setReady('a-gray-1', true);
  await sets.waitFor((u) => u.ok && u.instances.every((i) => i.healthy), WAIT_MS, 'ready again');
  assert.equal(pickA('gray'), 'a-gray-1');

  // A second gray Pod with the OpenSergo canary label form joins the gray lane.
  fake.addPod({
    name: 'a-gray-2',
    labels: { app: 'a', 'opensergo.io/canary-gray': 'gray' },
    ip: '10.13.0.3',
  });
  await sets.waitFor((u) => u.ok && u.instances.length === 3, WAIT_MS, 'a-gray-2');
  const grayPicks = new Set(Array.from({ length: 4 }, () => pickA('gray')));
  assert.deepEqual([...grayPicks].sort(), ['a-gray-1', 'a-gray-2']);

  fake.terminate('a-gray-1');
  fake.deletePod('a-gray-2');
  await sets.waitFor(
    (u) => u.ok && u.instances.length === 2 && !u.instances[0]!.healthy,
    WAIT_MS,
    'terminating',
  );
  assert.equal(pickA('gray'), 'a-stable-1', 'a terminating Pod is not picked');
  fake.deletePod('a-gray-1');
  fake.deletePod('a-stable-1');
  await sets.waitFor((u) => u.ok && u.instances.length === 0, WAIT_MS, 'all gone');
  assert.throws(() => pickA(null), { code: 'GL_ERR_NO_INSTANCE' });
});

test('after close() the process exits on its own (no handle left behind)', async () => {
  const root = join(__dirname, '..', '..', '..');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `
      const { FakeKubeApiServer, loadKubeClient } = require('./test/helpers/fake-kube-apiserver.ts');
      const { kubernetesRegistry } = require('@graylane/discovery/kubernetes');
      (async () => {
        const k8s = await loadKubeClient();
        const fake = await FakeKubeApiServer.start();
        fake.putService('a', { app: 'a' });
        fake.addPod({ name: 'a-1', labels: { app: 'a' } });
        const registry = kubernetesRegistry({ kubeConfig: fake.kubeConfig(k8s.KubeConfig), services: {} });
        await new Promise((resolve) => registry.subscribe('a', (u) => u.ok && u.instances.length === 1 && resolve()));
        await fake.waitForWatches(1);
        await registry.close();
        await fake.close();
        console.log('closed');
      })();
      `,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, 'the child had to be killed: something kept it alive after close()');
  assert.equal(code, 0);
  assert.equal(output.trim(), 'closed');
});
