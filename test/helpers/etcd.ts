// A real etcd for tests: the full-chain example's launcher (one implementation for the demo and
// the tests) plus test-runner cleanup.
import type { TestContext } from 'node:test';
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
