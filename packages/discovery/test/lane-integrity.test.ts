// Issue 13 items 7, 8 and 10: discovery is never bypassed (a service that is not loaded yet waits
// for its first set, never DNS), nothing is picked after close(), and a registry failure stops
// being "the last error" once the registry recovers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  createDiscovery,
  type Instance,
  isServiceHost,
  laneAxiosDiscovery,
  staticRegistry,
} from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import axios from 'axios';
import { request } from 'undici';
import { listen } from '../../../test/helpers/listen';
import { manualRegistry } from './helpers';

async function named(t: TestContext, name: string): Promise<number> {
  return listen(
    createServer((_req, res) => res.end(name)),
    t,
  );
}

function instance(id: string, port: number): Instance {
  return Object.freeze({
    id,
    host: '127.0.0.1',
    port,
    labels: Object.freeze({}),
    weight: 100,
    healthy: true,
  });
}

test('static instances from code and from a file are pickable synchronously after createDiscovery', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gl-integrity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'instances.json');
  writeFileSync(file, JSON.stringify({ 'svc-f': [{ host: '10.0.0.9', port: 80 }] }));
  const registry = staticRegistry({
    instances: [{ service: 'svc-a', host: '10.0.0.1', port: 80 }],
    file,
    env: false,
  });
  const discovery = createDiscovery({ registry });
  t.after(async () => {
    await discovery.close();
    await registry.close();
  });
  assert.equal(discovery.pick('svc-a', null).host, '10.0.0.1');
  assert.equal(discovery.pick('svc-f', null).host, '10.0.0.9');
  assert.equal(discovery.isLoaded('svc-a'), true);
});

test('which hosts are services: single-label names, tracked services, services the registry holds', (t) => {
  assert.equal(isServiceHost('svc-b'), true);
  for (const host of ['localhost', '127.0.0.1', '[::1]', 'api.example.com'])
    assert.equal(isServiceHost(host), false);
  const registry = staticRegistry({
    instances: [{ service: 'orders.internal', host: '10.0.0.1', port: 80 }],
    env: false,
  });
  t.after(() => registry.close());
  assert.equal(registry.current('orders.internal')?.length, 1);
});

test('laneDispatcher: a service not loaded yet waits for its first set (never DNS), then is routed', async (t) => {
  const port = await named(t, 'c-1');
  const { registry, emit } = manualRegistry();
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery });
  t.after(async () => {
    await dispatcher.close();
    await discovery.close();
  });
  // Today: svc-c is not tracked, so the request went to DNS (ENOTFOUND here; in Kubernetes, the Service).
  const pending = request('http://svc-c/x', { dispatcher });
  setTimeout(() => emit('svc-c', { ok: true, instances: [instance('c-1', port)] }), 100);
  const res = await pending;
  assert.equal(await res.body.text(), 'c-1');
});

test('laneDispatcher: a service that never loads fails with GL_ERR_REGISTRY_UNAVAILABLE after loadTimeoutMs', async (t) => {
  const { registry } = manualRegistry();
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery, loadTimeoutMs: 200 });
  t.after(async () => {
    await dispatcher.close();
    await discovery.close();
  });
  await assert.rejects(request('http://svc-never/x', { dispatcher }), {
    code: 'GL_ERR_REGISTRY_UNAVAILABLE',
  });
});

test('axios: a service not loaded yet waits for its first set, then is routed; never loaded: typed error', async (t) => {
  const port = await named(t, 'c-1');
  const { registry, emit } = manualRegistry();
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  const http = axios.create();
  laneAxiosDiscovery(http, { discovery, loadTimeoutMs: 300 });
  const pending = http.get('http://svc-c/x');
  setTimeout(() => emit('svc-c', { ok: true, instances: [instance('c-1', port)] }), 100);
  assert.equal((await pending).data, 'c-1');
  await assert.rejects(http.get('http://svc-never/x'), { code: 'GL_ERR_REGISTRY_UNAVAILABLE' });
});

test('pick() after close() throws GL_ERR_DISCOVERY_CLOSED; every request through laneDispatcher fails with it', async (t) => {
  const port = await named(t, 'b-1');
  const registry = staticRegistry({ instances: [{ service: 'svc-b', host: '127.0.0.1', port }], env: false });
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery });
  t.after(async () => {
    await dispatcher.close();
    await registry.close();
  });
  await discovery.ready('svc-b');
  assert.equal(await (await request('http://svc-b/', { dispatcher })).body.text(), 'b-1');
  await discovery.close();
  assert.throws(() => discovery.pick('svc-b'), { code: 'GL_ERR_DISCOVERY_CLOSED' });
  assert.throws(() => discovery.choose('svc-b'), { code: 'GL_ERR_DISCOVERY_CLOSED' });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(request('http://svc-b/', { dispatcher }), { code: 'GL_ERR_DISCOVERY_CLOSED' });
  }
  const http = axios.create();
  laneAxiosDiscovery(http, { discovery });
  await assert.rejects(http.get('http://svc-b/'), { code: 'GL_ERR_DISCOVERY_CLOSED' });
});

test('snapshot().lastError clears when the registry recovers; lastFailure keeps the history', async (t) => {
  const { registry, emit } = manualRegistry();
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  const ready = discovery.ready('svc');
  emit('svc', { ok: true, instances: [instance('a', 80)] });
  await ready;
  emit('svc', { ok: false, error: new Error('etcd down') });
  let svc = discovery.snapshot().services.svc!;
  assert.equal(svc.lastError?.message, 'etcd down');
  assert.equal(svc.lastFailure?.recoveredAt, null);
  emit('svc', { ok: true, instances: [instance('a', 80), instance('b', 81)] });
  svc = discovery.snapshot().services.svc!;
  assert.equal(svc.lastError, null, 'recovered: no current error');
  assert.equal(svc.lastFailure?.message, 'etcd down');
  assert.equal(typeof svc.lastFailure?.recoveredAt, 'string');
  assert.equal(svc.failures, 1);
  // Recovery with the very same set clears it too.
  const same = discovery.instances('svc');
  emit('svc', { ok: false, error: new Error('again') });
  emit('svc', { ok: true, instances: same });
  assert.equal(discovery.snapshot().services.svc!.lastError, null);
  assert.equal(discovery.snapshot().services.svc!.failures, 2);
});
