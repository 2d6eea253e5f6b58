// Docs cannot drift: every quick start in the root README.md is a file of docs/quickstart/, copied
// verbatim (checked here), and each of those files is run here as its own process and used the
// way the README says — the Express service, the edge, the gRPC service, and discovery on the
// static registry, on a real etcd (test/helpers/etcd.ts) and on Kubernetes (against
// test/helpers/fake-kube-apiserver.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { laneDispatcher } from '@graylane/discovery/undici';
import { compileRules } from '@graylane/rules';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { request } from 'undici';
import { startEtcd } from './helpers/etcd';
import { FakeKubeApiServer } from './helpers/fake-kube-apiserver';
import { freePort } from './helpers/listen';
import {
  eventually,
  getJson,
  QUICKSTART_DIR,
  REPO_ROOT,
  runQuickstart,
  START_TIMEOUT_MS,
  tagOf,
  upstream,
} from './helpers/quickstart';

// --- verbatim ------------------------------------------------------------------------------------

// The fences carry the example tags test/packed-install.test.ts reads (see CONTRIBUTING.md).
const FILES: ReadonlyArray<readonly [file: string, fence: string]> = [
  ['service.ts', 'ts example'],
  ['edge.ts', 'ts example'],
  ['grpc-service.ts', 'ts example'],
  ['greeter.proto', 'proto file=greeter.proto'],
  ['discovery-static.ts', 'ts example needs=yaml'],
  ['instances.yaml', 'yaml file=instances.yaml'],
  ['discovery-etcd.ts', 'ts example needs=etcd'],
  ['discovery-kubernetes.ts', 'ts example needs=kubernetes'],
];

test('every quick start in README.md is a docs/quickstart file, verbatim', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const [file, fence] of FILES) {
    const source = readFileSync(join(QUICKSTART_DIR, file), 'utf8');
    assert.ok(
      readme.includes(`\`\`\`${fence}\n${source}\`\`\``),
      `README.md has docs/quickstart/${file} verbatim in a \`\`\`${fence} block (copy it again)`,
    );
  }
});

// --- the quick starts, run -----------------------------------------------------------------------

test('service.ts: each request runs in its lane and its fetch() carries it', async (t) => {
  const inventory = await upstream(t, (req) => ({ tag: tagOf(req) }));
  const port = await freePort();
  const service = runQuickstart(t, 'service.ts', { PORT: String(port), INVENTORY_URL: inventory.url });
  const url = `http://127.0.0.1:${port}/checkout`;
  assert.deepEqual(await eventually('service.ts', service, () => getJson(url, { 'x-mse-tag': 'gray' })), {
    lane: 'gray',
    stock: { tag: 'gray' },
  });
  assert.deepEqual(await getJson(url, { baggage: 'x-mse-tag=blue' }), {
    lane: 'blue',
    stock: { tag: 'blue' },
  });
  assert.deepEqual(await getJson(url), { lane: 'base', stock: { tag: null } });
});

test('edge.ts: rules and the trust allowlist assign lanes; the proxied call carries them', async (t) => {
  const checkout = await upstream(t, (req) => ({ tag: tagOf(req), path: req.url }));
  const port = await freePort();
  const edge = runQuickstart(t, 'edge.ts', { PORT: String(port), CHECKOUT_URL: checkout.url });
  const url = `http://127.0.0.1:${port}/checkout?id=7`;
  assert.deepEqual(await eventually('edge.ts', edge, () => getJson(url, { 'user-agent': 'foo' })), {
    tag: 'gray',
    path: '/checkout?id=7',
  });
  // The same 10% rule, to know which users it takes (the sticky hash is deterministic).
  const weighted = compileRules([{ lane: 'gray', weight: 10, sticky: { header: 'x-user-id' } }]);
  const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
  const inGray = (user: string) => weighted.decide({ headers: { 'x-user-id': user } }).lane === 'gray';
  const grayUser = users.find(inGray)!;
  const baseUser = users.find((u) => !inGray(u))!;
  assert.ok(grayUser && baseUser, 'the sample has users on both sides');
  for (const user of users) {
    assert.deepEqual(await getJson(url, { 'x-user-id': user }), {
      tag: inGray(user) ? 'gray' : null,
      path: '/checkout?id=7',
    });
  }
  // A client's own tag: gray is allowlisted, anything else is stripped (then the rules decide).
  assert.equal(
    ((await getJson(url, { 'x-mse-tag': 'gray', 'x-user-id': baseUser })) as { tag: string }).tag,
    'gray',
  );
  assert.equal(
    ((await getJson(url, { 'x-mse-tag': 'feature-x', 'x-user-id': baseUser })) as { tag: string | null }).tag,
    null,
  );
});

interface GreeterClient extends grpc.Client {
  SayHello(
    request: { name: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: { message: string }) => void,
  ): grpc.ClientUnaryCall;
}

test('grpc-service.ts: the handler runs in the lane of the call metadata', async (t) => {
  const port = await freePort();
  const service = runQuickstart(t, 'grpc-service.ts', { PORT: String(port) }, QUICKSTART_DIR);
  const demo = grpc.loadPackageDefinition(loadSync(join(QUICKSTART_DIR, 'greeter.proto')))
    .demo as grpc.GrpcObject;
  const Greeter = demo.Greeter as grpc.ServiceClientConstructor;
  const client = new Greeter(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as GreeterClient;
  t.after(() => client.close());
  const sayHello = (lane: string | undefined) =>
    new Promise<{ message: string }>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (lane !== undefined) metadata.set('x-mse-tag', lane);
      client.SayHello({ name: 'tester' }, metadata, { deadline: Date.now() + 2_000 }, (error, reply) =>
        error || reply === undefined ? reject(error) : resolve(reply),
      );
    });
  assert.deepEqual(await eventually('grpc-service.ts', service, () => sayHello('gray')), {
    message: 'hello tester from lane gray',
  });
  assert.deepEqual(await sayHello(undefined), { message: 'hello tester from lane base' });
  assert.deepEqual(await sayHello('-bad'), { message: 'hello tester from lane base' });
});

test('discovery-static.ts + instances.yaml: gray requests reach the gray instance, the rest stable', async (t) => {
  // The file in the README loads as it is: one stable and one gray instance.
  const docsRegistry = staticRegistry({
    file: join(QUICKSTART_DIR, 'instances.yaml'),
    env: false,
    watch: false,
  });
  const docsDiscovery = createDiscovery({ registry: docsRegistry });
  await docsDiscovery.ready('inventory');
  assert.deepEqual(
    docsDiscovery.snapshot().services.inventory!.lanes.map((b) => [b.lane, b.instances.map((i) => i.id)]),
    [
      [null, ['inventory-stable']],
      ['gray', ['inventory-gray']],
    ],
  );
  docsDiscovery.close();
  await docsRegistry.close();

  const stable = await upstream(t, (req) => ({ instance: 'stable', tag: tagOf(req) }));
  const gray = await upstream(t, (req) => ({ instance: 'gray', tag: tagOf(req) }));
  const dir = mkdtempSync(join(tmpdir(), 'graylane-quickstart-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Same file, pointed at the local instances.
  const yaml = readFileSync(join(QUICKSTART_DIR, 'instances.yaml'), 'utf8')
    .replace('host: 10.0.1.5, port: 8080', `host: 127.0.0.1, port: ${stable.port}`)
    .replace('host: 10.0.1.6, port: 8080', `host: 127.0.0.1, port: ${gray.port}`);
  assert.ok(yaml.includes(String(stable.port)) && yaml.includes(String(gray.port)));
  writeFileSync(join(dir, 'instances.yaml'), yaml);

  const port = await freePort();
  const service = runQuickstart(t, 'discovery-static.ts', { PORT: String(port) }, dir);
  const url = `http://127.0.0.1:${port}/checkout`;
  assert.deepEqual(
    await eventually('discovery-static.ts', service, () => getJson(url, { 'x-mse-tag': 'gray' })),
    {
      lane: 'gray',
      stock: { instance: 'gray', tag: 'gray' },
    },
  );
  assert.deepEqual(await getJson(url), { lane: 'base', stock: { instance: 'stable', tag: null } });
  assert.deepEqual(await getJson(url, { 'x-mse-tag': 'feature-x' }), {
    lane: 'feature-x',
    stock: { instance: 'stable', tag: 'feature-x' }, // no feature-x instance: stable serves, lane kept
  });
});

test('discovery-etcd.ts: instances self-register on etcd with their lane; SIGTERM deregisters', async (t) => {
  const etcd = await startEtcd(t);
  const env = (lane: string, port: number) => ({
    PORT: String(port),
    ETCD_ENDPOINTS: etcd.endpoint,
    GRAYLANE_LANE: lane,
    POD_IP: '127.0.0.1', // what Kubernetes' downward API would set; the default is the first non-loopback IPv4
  });
  const stable = runQuickstart(t, 'discovery-etcd.ts', env('', await freePort()));
  const gray = runQuickstart(t, 'discovery-etcd.ts', env('gray', await freePort()));

  // A caller, as the comment in the file says.
  const registry = etcdRegistry({ endpoints: etcd.endpoint });
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery });
  const propagation = enablePropagation();
  t.after(async () => {
    propagation.disable();
    await dispatcher.close();
    discovery.close();
    await registry.close();
  });
  await discovery.ready('inventory');
  await eventually('both instances registered', null, async () => {
    for (const running of [stable, gray]) {
      if (running.child.exitCode !== null) assert.fail(`exited:\n${running.output()}`);
    }
    assert.equal(discovery.instances('inventory').length, 2);
  });
  const stock = async (lane: string | undefined) => {
    const { body } = await withLane(lane, () => request('http://inventory/stock', { dispatcher }));
    return body.json();
  };
  assert.deepEqual(await stock('gray'), { instance: 'gray', lane: 'gray' });
  assert.deepEqual(await stock(undefined), { instance: 'stable', lane: 'base' });

  await gray.stop(); // SIGTERM: the lease is revoked now, not after its TTL
  await eventually('the gray instance deregistered', null, async () => {
    assert.equal(discovery.instances('inventory').length, 1);
  });
  assert.deepEqual(await stock('gray'), { instance: 'stable', lane: 'gray' });
});

test('discovery-kubernetes.ts: Pods of the Service, lanes from their labels (fake API server)', async (t) => {
  const fake = await FakeKubeApiServer.start({}, t);
  fake.putService('inventory', { app: 'inventory' });
  fake.addPod({ name: 'inventory-5d9f-stable', labels: { app: 'inventory' }, ip: '10.1.0.5' });
  fake.addPod({
    name: 'inventory-8c2e-gray',
    labels: { app: 'inventory', 'alicloud.service.tag': 'gray' },
    ip: '10.1.0.6',
  });
  fake.addPod({ name: 'orders-1', labels: { app: 'orders' }, ip: '10.1.0.7' });
  const dir = mkdtempSync(join(tmpdir(), 'graylane-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(kubeconfig, fake.kubeconfigYaml());
  const running = runQuickstart(t, 'discovery-kubernetes.ts', { KUBECONFIG: kubeconfig });
  const timer = setTimeout(() => running.child.kill('SIGKILL'), START_TIMEOUT_MS);
  const [code] = (await once(running.child, 'exit')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, running.output());
  const lines = running.output().trim().split('\n');
  assert.equal(lines.length, 3, running.output());
  assert.match(lines[0]!, /^base -> \S*inventory-5d9f-stable\S* 10\.1\.0\.5:8080$/);
  assert.match(lines[1]!, /^gray -> \S*inventory-8c2e-gray\S* 10\.1\.0\.6:8080$/);
  assert.match(
    lines[2]!,
    /^feature-x -> \S*inventory-8c2e-gray\S* 10\.1\.0\.6:8080$/,
    'feature-x falls back to gray',
  );
  assert.ok(fake.requestsOf('list').length > 0, 'it listed Pods through the API server');
});
