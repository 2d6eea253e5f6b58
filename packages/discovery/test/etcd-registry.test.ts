import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import type { RegistryUpdate, ServiceInstanceInit } from '@graylane/discovery';
import { DEFAULT_ETCD_PREFIX, type EtcdRegistryOptions, etcdRegistry } from '@graylane/discovery/etcd';
import { Etcd3 } from 'etcd3';
import { type EtcdServer, startEtcd } from '../../../test/helpers/etcd';
import { endpoints, registryContract, UpdateRecorder } from './registry-contract';

// One etcd for this file; every test uses its own prefix or service, so they do not interfere.
let shared: Promise<EtcdServer> | undefined;
function sharedEtcd(): Promise<EtcdServer> {
  shared ??= startEtcd();
  return shared;
}
after(async () => {
  await (await shared)?.stop();
});

const TIMEOUT_MS = 5_000;
let serial = 0;
function uniquePrefix(): string {
  serial++;
  return `/graylane-test/${process.pid}-${serial}`;
}

/** Writes instances the way another process's registry would: `<prefix>/<service>/<id>` = JSON. */
function keyOf(prefix: string, instance: ServiceInstanceInit): string {
  return `${prefix}/${instance.service}/${instance.id ?? `${instance.host}:${instance.port}`}`;
}

registryContract('etcdRegistry', async () => {
  const etcd = await sharedEtcd();
  const prefix = uniquePrefix();
  const registry = etcdRegistry({ endpoints: etcd.endpoint, prefix });
  const writer = new Etcd3({ hosts: etcd.endpoint });
  return {
    registry,
    supportsRegister: true,
    async add(instance) {
      const { service: _service, ...fields } = instance;
      const key = keyOf(prefix, instance);
      await writer.put(key).value(JSON.stringify(fields));
      return async () => {
        await writer.delete().key(key);
      };
    },
    async dispose() {
      writer.close();
    },
  };
});

test('etcdRegistry: bad options fail at setup with GL_ERR_INVALID_OPTION', () => {
  for (const options of [
    { endpoints: [] },
    { endpoints: '' },
    { endpoints: 'http://127.0.0.1:2379', prefix: '/' },
    { endpoints: 'http://127.0.0.1:2379', ttlSeconds: 0 },
    { endpoints: 'http://127.0.0.1:2379', ttlSeconds: 1.5 },
    { endpoints: 'http://127.0.0.1:2379', retryInitialMs: 500, retryMaxMs: 100 },
  ]) {
    assert.throws(() => etcdRegistry(options), { code: 'GL_ERR_INVALID_OPTION' }, JSON.stringify(options));
  }
});

test('etcdRegistry: register() writes <prefix>/<service>/<id> as JSON on a lease; close() deletes it', async (t) => {
  const etcd = await sharedEtcd();
  const registry = etcdRegistry({ endpoints: etcd.endpoint, ttlSeconds: 7 });
  const admin = new Etcd3({ hosts: etcd.endpoint });
  t.after(async () => {
    await registry.close();
    admin.close();
  });
  const service = `layout-${process.pid}`;
  const registration = await registry.register({
    service,
    host: '10.1.2.3',
    port: 8080,
    labels: { 'alicloud.service.tag': 'gray' },
  });
  assert.equal(registration.instance.id, '10.1.2.3:8080');
  const key = `${DEFAULT_ETCD_PREFIX}/${service}/10.1.2.3:8080`;
  const res = await admin.get(key).exec();
  assert.equal(res.kvs.length, 1);
  const kv = res.kvs[0]!;
  assert.deepEqual(JSON.parse(kv.value.toString()), {
    id: '10.1.2.3:8080',
    host: '10.1.2.3',
    port: 8080,
    labels: { 'alicloud.service.tag': 'gray' },
    weight: 100,
    healthy: true,
  });
  assert.notEqual(kv.lease, '0', 'the key is held by a lease');
  const lease = await admin.leaseClient.leaseTimeToLive({ ID: kv.lease });
  assert.equal(lease.grantedTTL, '7');

  await registration.close();
  assert.equal((await admin.get(key).exec()).kvs.length, 0, 'close() revoked the lease: key gone at once');
  const revoked = await admin.leaseClient.leaseTimeToLive({ ID: kv.lease });
  assert.equal(revoked.TTL, '-1', 'the lease itself is gone');
});

test('etcdRegistry: registry.close() deregisters everything registered through it', async (t) => {
  const etcd = await sharedEtcd();
  const prefix = uniquePrefix();
  const registry = etcdRegistry({ endpoints: etcd.endpoint, prefix });
  const admin = new Etcd3({ hosts: etcd.endpoint });
  t.after(() => admin.close());
  await registry.register({ service: 'a', host: '127.0.0.1', port: 1 });
  await registry.register({ service: 'b', host: '127.0.0.1', port: 2, id: 'b-1' });
  assert.equal(await admin.getAll().prefix(`${prefix}/`).count(), 2);
  await registry.close();
  assert.equal(await admin.getAll().prefix(`${prefix}/`).count(), 0);
});

test('etcdRegistry: a register() still in flight when close() runs is undone, not leaked', async (t) => {
  const etcd = await sharedEtcd();
  const prefix = uniquePrefix();
  const registry = etcdRegistry({ endpoints: etcd.endpoint, prefix });
  const admin = new Etcd3({ hosts: etcd.endpoint });
  t.after(() => admin.close());
  const registering = assert.rejects(registry.register({ service: 'late', host: '127.0.0.1', port: 3 }), {
    code: 'GL_ERR_DISCOVERY_CLOSED',
  });
  await registry.close();
  await registering;
  assert.equal(await admin.getAll().prefix(`${prefix}/`).count(), 0);
  assert.throws(() => registry.subscribe('late', () => undefined), { code: 'GL_ERR_DISCOVERY_CLOSED' });
});

test('etcdRegistry: malformed values are skipped and reported, never fatal', async (t) => {
  const etcd = await sharedEtcd();
  const prefix = uniquePrefix();
  const registry = etcdRegistry({ endpoints: etcd.endpoint, prefix });
  const writer = new Etcd3({ hosts: etcd.endpoint });
  const reported: Array<{ registry: string; service?: string; error: Error & { code?: string } }> = [];
  const onError = (message: unknown) => reported.push(message as (typeof reported)[number]);
  diagnosticsChannel.subscribe('graylane:registry:error', onError);
  t.after(async () => {
    diagnosticsChannel.unsubscribe('graylane:registry:error', onError);
    await registry.close();
    writer.close();
  });
  const svc = `${prefix}/svc`;
  await writer.put(`${svc}/good`).value(JSON.stringify({ host: '127.0.0.1', port: 9001 }));
  await writer.put(`${svc}/not-json`).value('{oops');
  await writer.put(`${svc}/bad-port`).value(JSON.stringify({ host: '127.0.0.1', port: 'http' }));

  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('svc', recorder.listener));
  const first = await recorder.waitFor((u) => u.ok, TIMEOUT_MS, 'the first set');
  assert.deepEqual(endpoints(first), ['127.0.0.1:9001'], 'only the well-formed instance');
  const first2 = first as Extract<RegistryUpdate, { ok: true }>;
  assert.equal(first2.instances[0]!.id, 'good', 'the id comes from the key');
  const keys = reported.map((m) => m.error.message);
  assert.ok(
    reported.every(
      (m) => m.registry === 'etcd' && m.service === 'svc' && m.error.code === 'GL_ERR_INVALID_INSTANCE',
    ),
  );
  assert.ok(
    keys.some((k) => k.includes(`${svc}/not-json`)),
    keys.join('\n'),
  );
  assert.ok(
    keys.some((k) => k.includes(`${svc}/bad-port`)),
    keys.join('\n'),
  );

  // A watched change to garbage removes that instance (and is reported); a fix brings it back.
  await writer.put(`${svc}/good`).value('null');
  await recorder.waitFor((u) => u.ok && u.instances.length === 0, TIMEOUT_MS, 'the broken instance dropped');
  await writer.put(`${svc}/not-json`).value(JSON.stringify({ host: '127.0.0.2', port: 9002, weight: 5 }));
  const fixed = await recorder.waitFor((u) => u.ok && u.instances.length === 1, TIMEOUT_MS, 'the fixed one');
  assert.deepEqual(endpoints(fixed), ['127.0.0.2:9002']);
  assert.ok(reported.some((m) => m.error.message.includes(`${svc}/good`)));
  assert.equal(recorder.updates.filter((u) => !u.ok).length, 0, 'malformed values are not registry failures');
});

test('etcdRegistry: bad service names and instances are refused with typed errors', async (t) => {
  const etcd = await sharedEtcd();
  const registry = etcdRegistry({ endpoints: etcd.endpoint, prefix: uniquePrefix() });
  t.after(() => registry.close());
  assert.throws(() => registry.subscribe('a/b', () => undefined), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => registry.subscribe('', () => undefined), { code: 'GL_ERR_INVALID_OPTION' });
  await assert.rejects(registry.register({ service: 'ok', host: '127.0.0.1', port: 0 }), {
    code: 'GL_ERR_INVALID_INSTANCE',
  });
  await assert.rejects(registry.register({ service: 'ok', host: '', port: 80 }), {
    code: 'GL_ERR_INVALID_INSTANCE',
  });
  await assert.rejects(registry.register({ service: 'ok', host: 'h', port: 80, weight: -1 }), {
    code: 'GL_ERR_INVALID_INSTANCE',
  });
  await assert.rejects(registry.register({ service: 'x/y', host: 'h', port: 80 }), {
    code: 'GL_ERR_INVALID_INSTANCE',
  });
});

test('etcdRegistry: unreachable etcd -> one { ok: false } per outage, register() rejects', async (t) => {
  // A loopback port with nobody listening.
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));

  const registry = etcdRegistry({
    endpoints: `http://127.0.0.1:${port}`,
    requestTimeoutMs: 1_000,
    retryInitialMs: 50,
    retryMaxMs: 200,
  });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  registry.subscribe('svc', recorder.listener);
  const failed = await recorder.waitFor((u) => !u.ok, TIMEOUT_MS, 'a failure');
  assert.ok(!failed.ok);
  assert.equal((failed.error as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  await assert.rejects(registry.register({ service: 'svc', host: '127.0.0.1', port: 1 }), {
    code: 'GL_ERR_REGISTRY_UNAVAILABLE',
  });
  assert.equal(recorder.updates.length, 1, 'retries do not repeat the failure');
});

test('etcdRegistry: register() against a down etcd names the endpoints tried and what to check', async (t) => {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const registry = etcdRegistry({ endpoints: [endpoint], requestTimeoutMs: 500 });
  t.after(() => registry.close());
  await assert.rejects(
    registry.register({ service: 'svc', id: 'svc-1', host: '127.0.0.1', port: 1 }),
    (err: Error) => {
      assert.equal((err as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
      assert.ok(err.message.includes(`on etcd at ${endpoint} (deadline 500 ms per call)`), err.message);
      assert.ok(err.message.includes(`etcdctl --endpoints=${endpoint} endpoint health`), err.message);
      assert.match(err.message, /Check that etcd is running and reachable/);
      assert.ok(err.cause !== undefined, "etcd's own error stays the cause");
      return true;
    },
  );
});

test('README "etcd registry" section documents every option, default and error code', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const etcd = await import('@graylane/discovery/etcd');
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.split('## etcd registry')[1]?.split(/\n## /)[0];
  assert.ok(section, 'README has a "## etcd registry" section');
  const options: Array<keyof EtcdRegistryOptions> = [
    'endpoints',
    'prefix',
    'ttlSeconds',
    'requestTimeoutMs',
    'retryInitialMs',
    'retryMaxMs',
    'clientOptions',
  ];
  for (const option of options) assert.match(section, new RegExp(`\\|\\s*\`${option}\`\\s*\\|`), option);
  const defaults: Record<string, unknown> = {
    prefix: etcd.DEFAULT_ETCD_PREFIX,
    ttlSeconds: etcd.DEFAULT_LEASE_TTL_SECONDS,
    requestTimeoutMs: etcd.DEFAULT_REQUEST_TIMEOUT_MS,
    retryInitialMs: etcd.DEFAULT_RETRY_INITIAL_MS,
    retryMaxMs: etcd.DEFAULT_RETRY_MAX_MS,
  };
  for (const [option, value] of Object.entries(defaults)) {
    const shown = typeof value === 'string' ? `'${value}'` : String(value);
    const row = new RegExp(`\\|\\s*\`${option}\`\\s*\\|\\s*\`${shown.replaceAll('/', '\\/')}\`\\s*\\|`);
    assert.match(section, row, `${option} default ${shown}`);
  }
  for (const name of Object.keys(etcd).filter((key) => key !== 'default' && !key.startsWith('__'))) {
    assert.match(section, new RegExp(`\`${name}[\`(]`), `export ${name} documented`);
  }
  for (const code of [
    'GL_ERR_INVALID_OPTION',
    'GL_ERR_MISSING_PEER',
    'GL_ERR_INVALID_INSTANCE',
    'GL_ERR_REGISTRY_UNAVAILABLE',
    'GL_ERR_DISCOVERY_CLOSED',
  ]) {
    assert.match(section, new RegExp(`\\|\\s*\`${code}\`\\s*\\|`), code);
  }
});
