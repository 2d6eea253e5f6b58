// A throwaway single-member etcd: the real `etcd` binary (ETCD_BIN, or `etcd` on PATH; Debian:
// etcd-server) on free loopback ports with a temporary data dir. The demo starts one for
// `--registry etcd`; the repository's tests start theirs through this file too
// (test/helpers/etcd.ts adds test-runner cleanup on top).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long a started etcd may take to report healthy. */
const HEALTH_TIMEOUT_MS = 20_000;
/** Pause between health probes. */
const HEALTH_POLL_MS = 50;
/** How long `stop()` waits after SIGTERM before it sends SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** Raft heartbeat, ms (etcd default 100). */
const HEARTBEAT_MS = 25;
/** Raft election timeout, ms (etcd default 1000; must be >= 5 x heartbeat). */
const ELECTION_TIMEOUT_MS = 250;
/** Smallest client keepalive interval etcd accepts, ms (etcd default 5000). */
const KEEPALIVE_MIN_MS = 100;
/** Keep this much of etcd's stderr for error messages. */
const STDERR_TAIL_CHARS = 4_000;
/** Member name (the data dir is fresh every time, so it never has to match an old one). */
const MEMBER_NAME = 'graylane';

/** Node's `process.arch` -> Go's GOARCH, for `ETCD_UNSUPPORTED_ARCH` (etcd 3.4 refuses odd arches without it). */
const GO_ARCH: Readonly<Record<string, string>> = {
  arm: 'arm',
  arm64: 'arm64',
  ia32: '386',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** A real etcd server started by {@link startEtcd}. */
export interface EtcdServer {
  /** Client URL, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  /** Data directory (kept across `stop()` and `restart()`, removed by `close()`). */
  readonly dataDir: string;
  /** SIGTERM and wait for exit (SIGKILL after a grace period). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, as far as clients can tell. Idempotent. */
  kill(): Promise<void>;
  /** Start again on the SAME ports and data dir (stops it first if running); resolves when healthy. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers (a hung server or a silent partition). */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** `stop()`, then delete the data dir: done with this server for good. Idempotent. */
  close(): Promise<void>;
}

/** Running etcd processes and the data dirs not closed yet, for {@link killAllEtcd}. */
const running = new Set<ChildProcess>();
const dataDirs = new Set<string>();
let exitHookInstalled = false;

/**
 * SIGKILLs every etcd this process started and deletes their data dirs. Synchronous, so it can run
 * in an `'exit'` handler; it does, once any etcd was started: no etcd outlives this process.
 */
export function killAllEtcd(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
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

function etcdBinary(): string {
  return process.env.ETCD_BIN || 'etcd';
}

function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('ETCD_')) delete env[key];
  const goArch = GO_ARCH[process.arch];
  if (goArch !== undefined) env.ETCD_UNSUPPORTED_ARCH = goArch;
  return env;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts etcd on free loopback client and peer ports with a fresh data dir; resolves once it is healthy. */
export async function startEtcd(): Promise<EtcdServer> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllEtcd);
  }
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'graylane-etcd-'));
  dataDirs.add(dataDir);
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    `--name=${MEMBER_NAME}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${MEMBER_NAME}=${peer}`,
    '--initial-cluster-state=new',
    // A single member on loopback: elect fast, so a (re)start is healthy sooner.
    `--heartbeat-interval=${HEARTBEAT_MS}`,
    `--election-timeout=${ELECTION_TIMEOUT_MS}`,
    // Let clients ping often, so a hung server is detected quickly.
    `--grpc-keepalive-min-time=${KEEPALIVE_MIN_MS}ms`,
    '--logger=zap',
    '--log-level=error',
  ];

  let child: ChildProcess | undefined;
  let stderr = '';

  async function launch(): Promise<void> {
    stderr = '';
    const proc = spawn(etcdBinary(), args, { env: etcdEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    running.add(proc);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    let exited = false;
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
      exited = true;
      running.delete(proc);
    });
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
    });
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    while (!(await healthy(endpoint))) {
      if (spawnError !== undefined) {
        throw new Error(
          `cannot run etcd (${etcdBinary()}): ${spawnError.message}. Install Debian's etcd-server or set ETCD_BIN.`,
        );
      }
      if (exited) throw new Error(`etcd exited during startup (exit ${proc.exitCode}):\n${stderr}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`etcd not healthy after ${HEALTH_TIMEOUT_MS} ms:\n${stderr}`);
      }
      await sleep(HEALTH_POLL_MS);
    }
  }

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc === undefined || !running.has(proc)) return; // never started, or exited already
    const exited = once(proc, 'exit');
    proc.kill('SIGCONT'); // a paused etcd would not act on SIGTERM
    proc.kill(signal);
    const grace = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(grace);
  }

  async function close(): Promise<void> {
    await terminate('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    dataDirs.delete(dataDir);
  }

  try {
    await launch();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    endpoint,
    dataDir,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    async restart() {
      await terminate('SIGTERM');
      await launch();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    close,
  };
}
