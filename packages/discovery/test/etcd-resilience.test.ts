import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { type TestContext, test } from 'node:test';
import { createDiscovery, type RegistryUpdate } from '@graylane/discovery';
import { type EtcdRegistryOptions, etcdRegistry } from '@graylane/discovery/etcd';
import { status as GrpcStatus, InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { type EtcdServer, startEtcd } from '../../../test/helpers/etcd';
import { endpoints, UpdateRecorder } from './registry-contract';

const WAIT_MS = 10_000;
/** Fast retries so that a resync after a restart is quick; the defaults are 250 ms .. 10 s. */
const FAST_RETRY = { retryInitialMs: 100, retryMaxMs: 500, requestTimeoutMs: 2_000 } as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function value(host: string, port: number): string {
  return JSON.stringify({ host, port });
}

const isSet = (expected: string[]) => (u: RegistryUpdate) =>
  u.ok && endpoints(u)!.join(',') === [...expected].sort().join(',');

/** A registry and an admin client on `etcd`, both closed after the test (registry first). */
function clients(t: TestContext, etcd: EtcdServer, options: Partial<EtcdRegistryOptions> = {}) {
  const registry = etcdRegistry({ endpoints: etcd.endpoint, ...FAST_RETRY, ...options });
  const admin = new Etcd3({ hosts: etcd.endpoint });
  t.after(async () => {
    await registry.close();
    admin.close();
  });
  return { registry, admin };
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const result = await probe().catch(() => undefined);
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await sleep(50);
  }
}

test('etcd killed: the last set stays served (one { ok: false }); restarted on the same ports: resynced in place', async (t) => {
  const etcd = await startEtcd(t);
  const { registry, admin } = clients(t, etcd);
  await admin.put('/graylane/services/pay/a').value(value('10.0.0.1', 80));
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('pay', recorder.listener));
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  await discovery.ready('pay', { timeoutMs: WAIT_MS });
  await recorder.waitFor(isSet(['10.0.0.1:80']), WAIT_MS, 'the first set');
  assert.equal(discovery.pick('pay', null).host, '10.0.0.1');

  await etcd.kill();
  const failure = await recorder.waitFor((u) => !u.ok, WAIT_MS, 'the outage reported');
  assert.ok(!failure.ok);
  assert.equal((failure.error as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  await sleep(1_000); // several relist attempts (100..500 ms apart) fail meanwhile
  assert.equal(recorder.updates.filter((u) => !u.ok).length, 1, 'one failure per outage, not one per retry');
  assert.ok(!recorder.updates.at(-1)!.ok, 'no set was delivered while etcd was down');
  assert.deepEqual(endpoints(recorder.updates.findLast((u) => u.ok)!), ['10.0.0.1:80'], 'last good set kept');
  for (let i = 0; i < 100; i++)
    assert.equal(discovery.pick('pay', null).host, '10.0.0.1', 'picks keep working');

  const restartedAt = Date.now();
  await etcd.restart();
  const healthyAt = Date.now();
  // A change made after the restart, through a fresh client, reaches the SAME registry.
  const writer = new Etcd3({ hosts: etcd.endpoint });
  t.after(() => writer.close());
  await writer.put('/graylane/services/pay/c').value(value('10.0.0.3', 80));
  const resynced = await recorder.waitFor(isSet(['10.0.0.1:80', '10.0.0.3:80']), WAIT_MS, 'resync');
  const failureIndex = recorder.updates.indexOf(failure);
  assert.ok(recorder.updates.indexOf(resynced) > failureIndex);
  assert.equal(recorder.updates.filter((u) => !u.ok).length, 1);
  await poll('discovery to see c', async () => (discovery.instances('pay').length === 2 ? true : undefined));
  t.diagnostic(
    `restart: etcd healthy after ${healthyAt - restartedAt} ms; change after restart seen ${Date.now() - healthyAt} ms after healthy`,
  );
});

test('a hung etcd (SIGSTOP: connections open, no answers) is noticed by keepalive; SIGCONT resyncs', async (t) => {
  const etcd = await startEtcd(t);
  const { registry, admin } = clients(t, etcd, {
    // The defaults (10 s + 5 s) would make this test slow; the test etcd accepts pings every 100 ms.
    clientOptions: { grpcOptions: { 'grpc.keepalive_time_ms': 300, 'grpc.keepalive_timeout_ms': 300 } },
  });
  await admin.put('/graylane/services/hung/a').value(value('10.0.0.1', 80));
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('hung', recorder.listener));
  await recorder.waitFor(isSet(['10.0.0.1:80']), WAIT_MS, 'the first set');

  const pausedAt = Date.now();
  etcd.pause();
  const failure = await recorder.waitFor((u) => !u.ok, WAIT_MS, 'the hang noticed');
  t.diagnostic(`hang noticed after ${Date.now() - pausedAt} ms (keepalive 300 ms + 300 ms)`);
  assert.equal((failure as { error: Error & { code?: string } }).error.code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  assert.deepEqual(endpoints(recorder.updates.findLast((u) => u.ok)!), ['10.0.0.1:80'], 'last good set kept');

  etcd.resume();
  const writer = new Etcd3({ hosts: etcd.endpoint });
  t.after(() => writer.close());
  await writer.put('/graylane/services/hung/b').value(value('10.0.0.2', 80));
  await recorder.waitFor(isSet(['10.0.0.1:80', '10.0.0.2:80']), WAIT_MS, 'the resync after SIGCONT');
});

test('a lease lost while etcd was down (2 x TTL) is registered again under a new lease once etcd is back', async (t) => {
  const etcd = await startEtcd(t);
  const { registry, admin } = clients(t, etcd, { ttlSeconds: 1 });
  const { registry: observer } = clients(t, etcd);
  const lost: string[] = [];
  const onError = (message: unknown) => lost.push((message as { error: Error }).error.message);
  diagnosticsChannel.subscribe('graylane:registry:error', onError);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:registry:error', onError));

  const registration = await registry.register({ service: 'ledger', host: '10.0.0.9', port: 90 });
  const key = '/graylane/services/ledger/10.0.0.9:90';
  const oldLease = (await admin.get(key).exec()).kvs[0]!.lease;
  const recorder = new UpdateRecorder();
  t.after(observer.subscribe('ledger', recorder.listener));
  await recorder.waitFor(isSet(['10.0.0.9:90']), WAIT_MS, 'the registered instance');

  await etcd.kill();
  await poll('the lease to be declared lost', async () =>
    lost.some((m) => m.includes('lost the lease')) ? 1 : undefined,
  );
  await etcd.restart();
  const newLease = await poll('the key under a new lease', async () => {
    const kv = (await admin.get(key).exec()).kvs[0];
    return kv !== undefined && kv.lease !== oldLease ? kv.lease : undefined;
  });
  assert.notEqual(newLease, '0');
  // The old lease was restored with the restart and expires 1 s later: the key must outlive it.
  await sleep(2_500);
  assert.equal((await admin.get(key).exec()).kvs[0]?.lease, newLease, 'still held by the new lease');
  await recorder.waitFor(isSet(['10.0.0.9:90']), WAIT_MS, 'the instance after the resync');
  await registration.close();
  assert.equal((await admin.get(key).exec()).kvs.length, 0, 'close() revokes the new lease');
});

test('a lease revoked behind our back is detected by the keep-alive and registered again', async (t) => {
  const etcd = await startEtcd(t);
  const { registry, admin } = clients(t, etcd, { ttlSeconds: 1 });
  await registry.register({ service: 'audit', host: '10.0.0.8', port: 80 });
  const key = '/graylane/services/audit/10.0.0.8:80';
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('audit', recorder.listener));
  await recorder.waitFor(isSet(['10.0.0.8:80']), WAIT_MS, 'the registered instance');
  const oldLease = (await admin.get(key).exec()).kvs[0]!.lease;

  await admin.leaseClient.leaseRevoke({ ID: oldLease });
  await recorder.waitFor(isSet([]), WAIT_MS, 'the key deleted with its lease');
  await recorder.waitFor(isSet(['10.0.0.8:80']), WAIT_MS, 'the instance registered again');
  const kv = (await admin.get(key).exec()).kvs[0]!;
  assert.notEqual(kv.lease, oldLease);
});

/**
 * Holds the client's watch-create requests while closed: the watch lags behind the list, as a
 * slow or reconnecting watcher would. With `delayCancelMs`, the end of a watch stream the client
 * cancelled itself is reported that much later (a busy event loop), so a new watch can be
 * attached to the stream while it is being torn down.
 */
function watchGate(delayCancelMs = 0) {
  let open = false;
  const held: Array<() => void> = [];
  const interceptor: Interceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            if (delayCancelMs > 0 && status.code === GrpcStatus.CANCELLED) {
              setTimeout(() => nextStatus(status), delayCancelMs);
            } else {
              nextStatus(status);
            }
          },
        });
      },
      sendMessage(message: { create_request?: unknown }, next) {
        if (open || message.create_request === undefined) next(message);
        else held.push(() => next(message));
      },
    });
  return {
    interceptor,
    held,
    open() {
      open = true;
      for (const send of held.splice(0)) send();
    },
    /** Lets the held requests through but keeps holding later ones. */
    release() {
      for (const send of held.splice(0)) send();
    },
  };
}

for (const delayCancelMs of [0, 300]) {
  const variant = delayCancelMs === 0 ? '' : ` (stream teardown reported ${delayCancelMs} ms late)`;
  test(`a compaction gap between list and watch triggers a relist: no missed change, no stale instance${variant}`, async (t) => {
    const etcd = await startEtcd(t);
    const gate = watchGate(delayCancelMs);
    const { registry, admin } = clients(t, etcd, {
      clientOptions: {
        defaultCallOptions: (context) =>
          context.service === 'Watch' ? { interceptors: [gate.interceptor] } : {},
      },
    });
    await admin.put('/graylane/services/cart/a').value(value('10.0.0.1', 80));
    const recorder = new UpdateRecorder();
    t.after(registry.subscribe('cart', recorder.listener));
    await recorder.waitFor(isSet(['10.0.0.1:80']), WAIT_MS, 'the listed set');
    await poll('the watch create request', async () => (gate.held.length > 0 ? true : undefined));

    // While the watch lags: changes, then a compaction past the listed revision.
    await admin.put('/graylane/services/cart/b').value(value('10.0.0.2', 80));
    await admin.delete().key('/graylane/services/cart/a');
    await admin.put('/graylane/services/cart/c').value(value('10.0.0.3', 80));
    const { header } = await admin.get('/graylane/services/cart/c').exec();
    await admin.kv.compact({ revision: header.revision, physical: true });

    gate.open();
    await recorder.waitFor(isSet(['10.0.0.2:80', '10.0.0.3:80']), WAIT_MS, 'the relisted set');
    // The new watch (from the relisted revision) follows later changes.
    await admin.put('/graylane/services/cart/d').value(value('10.0.0.4', 80));
    await recorder.waitFor(
      isSet(['10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80']),
      WAIT_MS,
      'a change after the relist',
    );
    for (const update of recorder.updates.slice(1)) {
      assert.ok(update.ok, 'a compaction is not an outage');
      assert.ok(!endpoints(update)!.includes('10.0.0.1:80'), 'the deleted instance never comes back');
    }
  });
}

test('a watch canceled again right after the relist retries with backoff (no tight relist loop)', async (t) => {
  const etcd = await startEtcd(t);
  const gate = watchGate();
  const { registry, admin } = clients(t, etcd, {
    clientOptions: {
      defaultCallOptions: (context) =>
        context.service === 'Watch' ? { interceptors: [gate.interceptor] } : {},
    },
  });
  const reported: string[] = [];
  const onError = (message: unknown) => reported.push((message as { error: Error }).error.message);
  diagnosticsChannel.subscribe('graylane:registry:error', onError);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:registry:error', onError));
  const compactNow = async () => {
    const { header } = await admin.get('/graylane/services/loop/none').exec();
    await admin.kv.compact({ revision: header.revision, physical: true });
  };
  await admin.put('/graylane/services/loop/a').value(value('10.0.0.1', 80));
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('loop', recorder.listener));
  await recorder.waitFor(isSet(['10.0.0.1:80']), WAIT_MS, 'the listed set');

  for (const port of [81, 82]) {
    await poll('a held watch create request', async () => (gate.held.length > 0 ? true : undefined));
    // Two changes, so the compaction revision is past the held watch's start revision.
    await admin.put(`/graylane/services/loop/p${port}`).value(value('10.0.0.1', port));
    await admin.put(`/graylane/services/loop/q${port}`).value(value('10.0.0.2', port));
    await compactNow();
    gate.release(); // canceled as compacted; the relisted watch's create is held again
    await recorder.waitFor((u) => u.ok && endpoints(u)!.includes(`10.0.0.1:${port}`), WAIT_MS, `p${port}`);
  }
  assert.ok(
    reported.some((m) => m.includes('canceled again')),
    `the second cancel in a row is reported: ${JSON.stringify(reported)}`,
  );
  gate.open();
  await admin.put('/graylane/services/loop/z').value(value('10.0.0.9', 80));
  await recorder.waitFor(
    (u) => u.ok && endpoints(u)!.includes('10.0.0.9:80'),
    WAIT_MS,
    'the watch working again',
  );
  assert.equal(recorder.updates.filter((u) => !u.ok).length, 0);
});
