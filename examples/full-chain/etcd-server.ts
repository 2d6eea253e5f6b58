// A throwaway single-member etcd for `--registry etcd`: the real `etcd` binary (ETCD_BIN, or
// `etcd` on PATH; Debian: etcd-server) on free loopback ports with a temporary data dir, the same
// way the repository's tests start one (test/helpers/etcd.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long etcd may take to report healthy. */
const HEALTH_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 50;
/** SIGKILL after this long past SIGTERM. */
const STOP_GRACE_MS = 5_000;

export interface EtcdServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** A loopback port that was free a moment ago (etcd cannot report a port it chose itself). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

/** Starts etcd and resolves once it is healthy. */
export async function startEtcd(): Promise<EtcdServer> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'graylane-demo-etcd-'));
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('ETCD_')) delete env[key];
  if (process.arch === 'arm64') env.ETCD_UNSUPPORTED_ARCH = 'arm64';
  const child: ChildProcess = spawn(
    process.env.ETCD_BIN || 'etcd',
    [
      '--name=graylane-demo',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=graylane-demo=${peer}`,
      '--initial-cluster-state=new',
      '--heartbeat-interval=25',
      '--election-timeout=250',
      '--logger=zap',
      '--log-level=error',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  let failed: Error | undefined;
  child.once('error', (error) => {
    failed = error;
  });
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill); // never leave an etcd behind
  const cleanup = (): void => {
    process.removeListener('exit', kill);
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (!(await healthy(endpoint))) {
    const reason = failed
      ? `cannot run etcd (${failed.message}); install etcd (Debian: apt-get install etcd-server) or set ETCD_BIN`
      : child.exitCode !== null
        ? `etcd exited (${child.exitCode}): ${stderr}`
        : Date.now() > deadline
          ? `etcd not healthy after ${HEALTH_TIMEOUT_MS} ms: ${stderr}`
          : undefined;
    if (reason !== undefined) {
      kill();
      cleanup();
      throw new Error(reason);
    }
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }

  return {
    endpoint,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const grace = setTimeout(kill, STOP_GRACE_MS);
        await exited;
        clearTimeout(grace);
      }
      cleanup();
    },
  };
}
