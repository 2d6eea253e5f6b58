// Starts the full chain: every instance in its own process on a loopback port it picks itself
// (port 0), on the static registry (a shared instances file) or on etcd (self-registration on
// leases), and waits until every caller sees every instance of the service it calls.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdServer, startEtcd } from './etcd-server';
import type { ProcessMessage, RegistryKind } from './instance';
import { PROCESSES, type ProcessSpec } from './topology';

const ROOT = join(__dirname, '..', '..');
/** How long the processes may take to listen and see each other. */
const DEFAULT_START_TIMEOUT_MS = 45_000;
/** How often startup progress is checked. */
const POLL_MS = 25;
/** SIGKILL a process this long after SIGTERM. */
const STOP_GRACE_MS = 5_000;
/** Keep this much of each process's output for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

export interface ChainOptions {
  /** Default `static`. */
  readonly registry?: RegistryKind;
  /** etcd client URLs (comma-separated). Default `$ETCD_ENDPOINTS`, else a fresh etcd is started. */
  readonly etcdEndpoints?: string;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
  readonly startTimeoutMs?: number;
}

/** A running process of the chain. */
export interface ChainProcess {
  readonly spec: ProcessSpec;
  readonly host: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly diagnostics: string;
}

export interface Chain {
  readonly registry: RegistryKind;
  /** The etcd in use (etcd mode). */
  readonly etcdEndpoint: string | null;
  /** Key prefix of this run's instances in etcd. */
  readonly etcdPrefix: string | null;
  /** `http://127.0.0.1:<port>` of the edge. */
  readonly edgeUrl: string;
  readonly processes: ReadonlyMap<string, ChainProcess>;
  /**
   * SIGTERM every process (on etcd each revokes its lease), wait for them, stop the etcd this
   * launcher started. Resolves with the instance keys left in etcd (should be 0), or `null`.
   */
  stop(): Promise<{ leftoverKeys: number | null }>;
  /** SIGTERM one process and wait for it to exit (an instance leaving: on etcd it deregisters). */
  stopProcess(id: string): Promise<void>;
  /** Instance keys of this run in etcd now (etcd mode), else `null`. */
  etcdKeys(): Promise<number | null>;
}

interface Child {
  readonly spec: ProcessSpec;
  readonly proc: ChildProcess;
  output: string;
  listening?: Extract<ProcessMessage, { type: 'listening' }>;
  routes: Map<string, string[]>;
  exited: boolean;
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function terminate(child: Child): Promise<void> {
  const proc = child.proc;
  if (child.exited) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  const grace = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(grace);
}

async function countKeys(endpoint: string, prefix: string): Promise<number> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: endpoint.split(',') });
  try {
    return (await client.getAll().prefix(`${prefix}/`).keys()).length;
  } finally {
    client.close();
  }
}

// A chain is stopped cleanly (every instance, etcd, the temp dir) on Ctrl-C, SIGTERM and SIGHUP,
// whether the signal reaches the whole process group (a terminal's Ctrl-C) or only this process
// (forwarded by `npm start`); further signals while stopping are ignored. On any other exit the
// instances are killed and the temp dir removed synchronously.
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const running = new Set<{ stop(): Promise<unknown>; killNow(): void }>();
let stopping = false;

function onStopSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  const code = 128 + (osConstants.signals[signal] ?? 15);
  void Promise.allSettled([...running].map((chain) => chain.stop())).then(() => process.exit(code));
}

function onExit(): void {
  for (const chain of running) chain.killNow();
}

function track(chain: { stop(): Promise<unknown>; killNow(): void }): () => void {
  if (running.size === 0) {
    for (const signal of STOP_SIGNALS) process.on(signal, onStopSignal);
    process.on('exit', onExit);
  }
  running.add(chain);
  return () => {
    running.delete(chain);
    if (running.size === 0) {
      for (const signal of STOP_SIGNALS) process.off(signal, onStopSignal);
      process.off('exit', onExit);
    }
  };
}

/** Starts the chain; rejects (with every process stopped) when it cannot. */
export async function startChain(options: ChainOptions = {}): Promise<Chain> {
  const registry = options.registry ?? 'static';
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'graylane-full-chain-'));
  const instancesFile = join(dir, 'instances.json');
  let etcd: EtcdServer | null = null;
  let etcdEndpoint: string | null = null;
  let etcdPrefix: string | null = null;
  const children: Child[] = [];
  let stopping: Promise<{ leftoverKeys: number | null }> | undefined;
  const untrack = track({
    stop: () => (stopping ??= stopAll()),
    killNow() {
      for (const c of children) if (!c.exited) c.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  });

  async function stopAll(): Promise<{ leftoverKeys: number | null }> {
    await Promise.all(children.map(terminate));
    let leftoverKeys: number | null = null;
    if (etcdEndpoint !== null && etcdPrefix !== null) {
      leftoverKeys = await countKeys(etcdEndpoint, etcdPrefix).catch(() => null);
    }
    await etcd?.close();
    rmSync(dir, { recursive: true, force: true });
    untrack();
    return { leftoverKeys };
  }

  try {
    if (registry === 'etcd') {
      etcdEndpoint = options.etcdEndpoints ?? process.env.ETCD_ENDPOINTS ?? null;
      if (etcdEndpoint === null) {
        log('starting etcd ...');
        etcd = await startEtcd();
        etcdEndpoint = etcd.endpoint;
      }
      etcdPrefix = `/graylane-demo/${process.pid}-${Date.now().toString(36)}`;
    } else {
      writeAtomically(instancesFile, '{}\n'); // the registry exists before anyone reads it
    }

    log(`starting ${PROCESSES.length} processes (${registry} registry) ...`);
    let failure: ((error: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      failure = reject;
    });
    failed.catch(() => {});
    for (const spec of PROCESSES) {
      const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, spec.script)], {
        cwd: ROOT,
        env: {
          ...process.env,
          GRAYLANE_DEMO_ID: spec.id,
          GRAYLANE_DEMO_REGISTRY: registry,
          GRAYLANE_LANE: spec.lane ?? '',
          GRAYLANE_DEMO_INSTANCES_FILE: instancesFile,
          ETCD_ENDPOINTS: etcdEndpoint ?? '',
          GRAYLANE_DEMO_ETCD_PREFIX: etcdPrefix ?? '',
        },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const child: Child = { spec, proc, output: '', routes: new Map(), exited: false };
      children.push(child);
      const keep = (chunk: Buffer) => {
        child.output = (child.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
      };
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      proc.on('message', (raw) => {
        const message = raw as ProcessMessage;
        if (message.type === 'listening') child.listening = message;
        else if (message.type === 'routes') child.routes.set(message.service, [...message.instances].sort());
        else if (message.type === 'fatal') failure!(new Error(`${spec.id} failed: ${message.message}`));
      });
      proc.once('exit', (code, signal) => {
        child.exited = true;
        failure!(new Error(`${spec.id} exited (${signal ?? code}) during startup:\n${child.output}`));
      });
    }

    const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    async function until(what: string, done: () => boolean): Promise<void> {
      while (!done()) {
        const left = deadline - Date.now();
        if (left <= 0) {
          const tails = children.map((c) => `--- ${c.spec.id}\n${c.output}`).join('\n');
          throw new Error(`timed out waiting for ${what}\n${tails}`);
        }
        await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(left, POLL_MS))), failed]);
      }
    }

    await until('every process to listen', () => children.every((c) => c.listening !== undefined));
    if (registry === 'static') {
      // The deploy tooling's part: write the registry file from what each instance announced.
      const table: Record<string, object[]> = {};
      for (const { listening } of children) {
        if (listening?.service == null) continue;
        table[listening.service] ??= [];
        table[listening.service]!.push({
          id: listening.id,
          host: listening.host,
          port: listening.port,
          labels: listening.labels,
        });
      }
      writeAtomically(instancesFile, `${JSON.stringify(table, null, 2)}\n`);
    }
    const expected = (service: string) =>
      PROCESSES.filter((p) => p.service === service)
        .map((p) => p.id)
        .sort()
        .join(',');
    await until('every caller to see every instance', () =>
      children.every(
        (c) =>
          c.spec.calls === null || (c.routes.get(c.spec.calls) ?? []).join(',') === expected(c.spec.calls),
      ),
    );

    const processes = new Map<string, ChainProcess>();
    for (const c of children) {
      const l = c.listening!;
      processes.set(c.spec.id, {
        spec: c.spec,
        host: l.host,
        port: l.port,
        labels: l.labels,
        diagnostics: l.diagnostics,
      });
    }
    // From here on an exit is no longer a startup failure.
    for (const c of children) c.proc.removeAllListeners('exit').once('exit', () => (c.exited = true));
    const edge = processes.get('edge')!;
    return {
      registry,
      etcdEndpoint,
      etcdPrefix,
      edgeUrl: `http://${edge.host}:${edge.port}`,
      processes,
      stop: () => (stopping ??= stopAll()),
      async stopProcess(id) {
        const child = children.find((c) => c.spec.id === id);
        if (child === undefined) throw new Error(`no process ${id}`);
        await terminate(child);
      },
      etcdKeys: async () =>
        etcdEndpoint === null || etcdPrefix === null ? null : countKeys(etcdEndpoint, etcdPrefix),
    };
  } catch (error) {
    stopping ??= stopAll();
    await stopping;
    throw error;
  }
}
