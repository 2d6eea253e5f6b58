// A real etcd for tests: the full-chain example's launcher (one implementation for the demo and
// the tests) plus test-runner cleanup.
import type { TestContext } from 'node:test';
import { createDiscovery, type Discovery } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import {
  type EtcdServer,
  killAllEtcd,
  startEtcd as startEtcdProcess,
} from '../../examples/full-chain/etcd-server';

export type { EtcdServer };

let signalHooksInstalled = false;

function installSignalHooks(): void {
  if (signalHooksInstalled) return;
  signalHooksInstalled = true;
  // The launcher kills its etcds on 'exit'; a signal (a test timeout sends SIGTERM) skips 'exit'
  // handlers, so kill them here too: never leave an etcd behind.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllEtcd();
      // Nobody else handles it: die of the signal as we would have without this hook.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * Starts a real `etcd` (`ETCD_BIN` or `etcd` on PATH) on free loopback client and peer ports with
 * a fresh temporary data dir, and resolves once it reports healthy. With `t`, it is killed and
 * its data dir removed in `t.after`; in any case it is killed when the process exits or is
 * signalled.
 */
export async function startEtcd(t?: TestContext): Promise<EtcdServer> {
  installSignalHooks();
  const server = await startEtcdProcess();
  t?.after(async () => {
    await server.kill();
    await server.close();
  });
  return server;
}

/**
 * A real etcd, a discovery reading it (its own registry client) and a second client to register
 * with (`writer`), all closed after the test: the setup of every test that registers instances in
 * etcd and watches them through discovery.
 */
export async function startEtcdDiscovery(t: TestContext): Promise<{
  etcd: EtcdServer;
  discovery: Discovery;
  writer: ReturnType<typeof etcdRegistry>;
}> {
  const etcd = await startEtcd(t);
  const reader = etcdRegistry({ endpoints: [etcd.endpoint] });
  const writer = etcdRegistry({ endpoints: [etcd.endpoint] });
  const discovery = createDiscovery({ registry: reader });
  t.after(async () => {
    await discovery.close();
    await reader.close();
    await writer.close();
  });
  return { etcd, discovery, writer };
}
