// Issue 14: SIGKILL of a gray instance registered in etcd under a steady 200 req/s in its lane,
// through each client graylane routes — undici laneDispatcher, axios (laneAxiosDiscovery) and the
// gRPC lane channel — at once, taking the requests in turn (~67 req/s each). The instances are
// child processes (test/fixtures/http-grpc-instance.mjs) registered with register() on the
// DEFAULT lease TTL (10 s): the dead instance's keys live until it expires. Meanwhile it refuses
// connections: those requests are retried within the lane and it is ejected. Failed requests from
// the kill until discovery dropped both keys must stay <= 2% of the lane's traffic. (packages/discovery/test/etcd-crash.test.ts: the same for undici, 3 s TTL.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLIENTS,
  laneClients,
  seen,
  startEtcdFleet,
  startInstance,
  steadyLoad,
  summary,
} from './helpers/http-grpc-fleet';

test('SIGKILL of an etcd-registered gray under 200 req/s: <= 2% of the lane fails over the lease TTL, on undici, axios and gRPC', async (t) => {
  const { endpoint, discovery } = await startEtcdFleet(t);
  const both = (match: (ids: string[]) => boolean) =>
    Promise.all([seen(discovery, 'svc-b', match), seen(discovery, 'svc-g', match)]);
  const visible = both((ids) => ids.includes('gray-1') && ids.includes('gray-2') && ids.includes('stable'));
  const [gray1] = await Promise.all([
    startInstance(t, { mode: 'etcd', endpoint: endpoint, name: 'gray-1' }),
    startInstance(t, { mode: 'etcd', endpoint: endpoint, name: 'gray-2' }),
  ]);
  await visible;

  const load = steadyLoad(laneClients(t, discovery, 'graylane-etcd-crash'), 'gray', 200);
  let killedAt = 0;
  let goneAfterMs = 0;
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    load.nextPhase();
    killedAt = Date.now();
    gray1.child.kill('SIGKILL');
    await both((ids) => !ids.includes('gray-1')); // the lease expired: etcd removed both keys
    goneAfterMs = Date.now() - killedAt;
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    await load.stop();
  }
  const [before, after] = load.phases as [(typeof load.phases)[0], (typeof load.phases)[0]];
  t.diagnostic(`keys gone ${goneAfterMs} ms after the SIGKILL`);
  for (const client of CLIENTS) {
    t.diagnostic(
      `${client}: before the kill ${summary(before[client])}; from the kill until the keys were gone: ${summary(after[client])}`,
    );
  }
  assert.ok(goneAfterMs >= 5_000, `the keys outlived the process (default TTL 10 s): ${goneAfterMs} ms`);
  let laneTotal = 0;
  let laneFailed = 0;
  for (const client of CLIENTS) {
    const stats = after[client];
    assert.equal(before[client].failed, 0, `${client} before the kill: ${summary(before[client])}`);
    const total = stats.ok + stats.failed;
    assert.ok(total > 100, `${client}: ${total} requests over the TTL`);
    assert.equal(stats.servedBy.get('stable') ?? 0, 0, `${client}: gray requests stay in the gray lane`);
    assert.ok(stats.failed <= total * 0.02, `${client}: ${summary(stats)}`);
    laneTotal += total;
    laneFailed += stats.failed;
  }
  // The failures are the requests in flight on the killed instance (no retry: they may have
  // reached it); each client's share of its own requests, and the lane's (all three clients).
  assert.ok(laneFailed <= laneTotal * 0.02, `${laneFailed} of ${laneTotal} gray requests failed`);
});
