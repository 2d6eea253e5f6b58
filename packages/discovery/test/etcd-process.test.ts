import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { createDiscovery, type RegistryUpdate } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../../../test/helpers/etcd';
import { endpoints, UpdateRecorder } from './registry-contract';

const CHILD = join(__dirname, 'etcd-register-child.mjs');
/** Generous bound for "it arrives": the 1 s target is measured and reported, not asserted. */
const ARRIVAL_BOUND_MS = 5_000;

interface Child {
  readonly process: ChildProcess;
  readonly registeredAt: number;
  readonly id: string;
}

async function startChild(t: TestContext, args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`child exited (${code}) before registering:\n${stderr}`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  lines.close();
  const { registeredAt, id } = JSON.parse(line) as { registeredAt: number; id: string };
  return { process: child, registeredAt, id };
}

/** A recorder that also notes when each update arrived. */
function timedRecorder(): { recorder: UpdateRecorder; arrivals: Map<RegistryUpdate, number> } {
  const recorder = new UpdateRecorder();
  const arrivals = new Map<RegistryUpdate, number>();
  const record = recorder.listener;
  const listener = (update: RegistryUpdate) => {
    arrivals.set(update, Date.now());
    record(update);
  };
  Object.defineProperty(recorder, 'listener', { value: listener });
  return { recorder, arrivals };
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + ARRIVAL_BOUND_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const has = (endpoint: string) => (u: RegistryUpdate) => u.ok && endpoints(u)!.includes(endpoint);
const lacks = (endpoint: string) => (u: RegistryUpdate) => u.ok && !endpoints(u)!.includes(endpoint);

test('an instance registered by another process is seen at once; after SIGKILL its lease expiry removes it', async (t) => {
  const etcd = await startEtcd(t);
  const registry = etcdRegistry({ endpoints: etcd.endpoint });
  t.after(() => registry.close());
  const { recorder, arrivals } = timedRecorder();
  t.after(registry.subscribe('orders', recorder.listener));
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  await discovery.ready('orders', { timeoutMs: ARRIVAL_BOUND_MS });
  await recorder.waitFor((u) => u.ok, ARRIVAL_BOUND_MS, 'the empty set');
  assert.throws(() => discovery.pick('orders', 'gray'), { code: 'GL_ERR_NO_INSTANCE' });

  const ttlSeconds = 2;
  const spawnedAt = Date.now();
  const child = await startChild(t, [etcd.endpoint, 'orders', '9100', 'gray', String(ttlSeconds)]);
  const seen = await recorder.waitFor(has('127.0.0.1:9100'), ARRIVAL_BOUND_MS, 'the child instance');
  assert.ok(seen.ok);
  const instance = seen.instances.find((i) => i.port === 9100)!;
  assert.equal(instance.id, child.id);
  assert.equal(instance.labels['alicloud.service.tag'], 'gray');
  t.diagnostic(
    `register (child) -> seen (parent): ${arrivals.get(seen)! - child.registeredAt} ms; spawn -> seen: ${arrivals.get(seen)! - spawnedAt} ms`,
  );
  await waitUntil(() => discovery.instances('orders').length === 1, 'discovery to have the instance');
  assert.equal(discovery.pick('orders', 'gray').port, 9100, 'picked for the gray lane by this process');

  const killedAt = Date.now();
  child.process.kill('SIGKILL');
  const gone = await recorder.waitFor(
    lacks('127.0.0.1:9100'),
    ttlSeconds * 1000 + ARRIVAL_BOUND_MS,
    'the instance removed after its lease expired',
  );
  t.diagnostic(`SIGKILL -> removed: ${arrivals.get(gone)! - killedAt} ms (lease TTL ${ttlSeconds} s)`);
  await waitUntil(() => discovery.instances('orders').length === 0, 'discovery to drop the instance');
  assert.throws(() => discovery.pick('orders', 'gray'), { code: 'GL_ERR_NO_INSTANCE' });
  assert.equal(recorder.updates.filter((u) => !u.ok).length, 0);
});

test('SIGTERM: the child revokes its lease (gone at once, long before the TTL) and exits by itself', async (t) => {
  const etcd = await startEtcd(t);
  const registry = etcdRegistry({ endpoints: etcd.endpoint });
  const admin = new Etcd3({ hosts: etcd.endpoint });
  t.after(async () => {
    await registry.close();
    admin.close();
  });
  const { recorder, arrivals } = timedRecorder();
  t.after(registry.subscribe('orders', recorder.listener));
  const ttlSeconds = 60;
  const child = await startChild(t, [etcd.endpoint, 'orders', '9200', '', String(ttlSeconds)]);
  await recorder.waitFor(has('127.0.0.1:9200'), ARRIVAL_BOUND_MS, 'the child instance');

  const termAt = Date.now();
  child.process.kill('SIGTERM');
  // With a 60 s TTL, disappearing within the bound can only be the revoke.
  const gone = await recorder.waitFor(lacks('127.0.0.1:9200'), ARRIVAL_BOUND_MS, 'the instance deregistered');
  t.diagnostic(`SIGTERM -> removed: ${arrivals.get(gone)! - termAt} ms`);
  const exit = once(child.process, 'exit');
  const bound = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  const [code, signal] = await exit;
  clearTimeout(bound);
  assert.equal(signal, null, 'the child ended by itself (not killed after the 10 s bound)');
  assert.equal(code, 0);
  assert.equal(await admin.getAll().prefix('/graylane/services/orders/').count(), 0);
});
