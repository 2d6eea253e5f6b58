// Shared by stop-cycles-*.test.ts and etcd-crash-clients.test.ts: child-process instances that
// serve HTTP (svc-b) and gRPC (svc-g) (test/fixtures/http-grpc-instance.mjs), a stable instance
// of both in this process, the three clients graylane routes (undici laneDispatcher, axios,
// the gRPC lane channel), and a steady load on all three at once, counted per client.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { withLane } from '@graylane/core';
import { type Discovery, laneAxiosDiscovery } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { laneClientInterceptor, registerLaneChannel } from '@graylane/grpc';
import { Client, credentials, Metadata, Server, ServerCredentials, type ServiceError } from '@grpc/grpc-js';
import axios from 'axios';
import { request } from 'undici';
import { startEtcdDiscovery } from './etcd';
import { listen } from './listen';

const CHILD = join(__dirname, '..', 'fixtures', 'http-grpc-instance.mjs');

export const CLIENTS = ['undici', 'axios', 'grpc'] as const;
export type ClientName = (typeof CLIENTS)[number];

export interface Instance {
  readonly name: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly child: ChildProcess;
  /** Resolves when the process has ended: `'SIGTERM'` (re-raised after the drain), an exit code, ... */
  readonly exited: Promise<string>;
}

/**
 * Starts a child instance (see test/fixtures/http-grpc-instance.mjs) and resolves once it has
 * registered both services. SIGKILLed in `t.after` if still running.
 */
export async function startInstance(
  t: TestContext,
  options: { mode: 'etcd' | 'file'; endpoint?: string; name: string; lane?: string; ttlSeconds?: number },
): Promise<Instance> {
  const args = [CHILD, options.mode, options.endpoint ?? '-', options.name, options.lane ?? 'gray'];
  if (options.ttlSeconds !== undefined) args.push(String(options.ttlSeconds));
  // stdin is a pipe the child watches: it exits if this process dies without killing it.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code, signal]) => String(signal ?? code));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout! });
  const early = exited.then((how) => {
    throw new Error(`${options.name} ended (${how}) before registering:\n${stderr}`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), early])) as [string];
  lines.close();
  const { httpPort, grpcPort } = JSON.parse(line) as { httpPort: number; grpcPort: number };
  return { name: options.name, httpPort, grpcPort, child, exited };
}

/** The gRPC service of svc-g, as in the child: one unary method whose reply is the instance's name. */
const WHO_PATH = '/graylane.test.Served/Who';
const emptyRequest = (): Buffer => Buffer.alloc(0);
const nameReply = (bytes: Buffer): string => bytes.toString();
const WHO = {
  Who: {
    path: WHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: emptyRequest,
    requestDeserialize: () => ({}),
    responseSerialize: (value: string) => Buffer.from(value),
    responseDeserialize: nameReply,
  },
} as const;

/** The base instance of svc-b (HTTP) and svc-g (gRPC) in this process; answers `stable`. */
export async function startStable(t: TestContext): Promise<{ httpPort: number; grpcPort: number }> {
  const httpPort = await listen(
    createServer((_req, res) => res.end('stable')),
    t,
  );
  const server = new Server();
  server.addService(WHO, {
    Who: (_call: unknown, callback: (error: null, name: string) => void) => callback(null, 'stable'),
  });
  const grpcPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    );
  });
  t.after(() => server.forceShutdown());
  return { httpPort, grpcPort };
}

/** One request in the current lane; resolves to the instance that served it. */
export type Send = () => Promise<string>;

/** undici `laneDispatcher`, axios + `laneAxiosDiscovery` (http://svc-b/), gRPC lane channel (svc-g). */
export function laneClients(t: TestContext, discovery: Discovery, scheme: string): Record<ClientName, Send> {
  const dispatcher = laneDispatcher({ discovery });
  t.after(() => dispatcher.close());
  const http = axios.create({ responseType: 'text' });
  laneAxiosDiscovery(http, { discovery });
  const channel = registerLaneChannel({ discovery, scheme });
  t.after(() => channel.close());
  const grpc = new Client(`${scheme}:///svc-g`, credentials.createInsecure(), {
    interceptors: [laneClientInterceptor()],
  });
  t.after(() => grpc.close());
  return {
    async undici() {
      const res = await request('http://svc-b/', { dispatcher });
      const body = await res.body.text();
      if (res.statusCode !== 200)
        throw Object.assign(new Error(`status ${res.statusCode}`), { code: 'HTTP' });
      return body;
    },
    async axios() {
      return String((await http.get('http://svc-b/')).data);
    },
    grpc() {
      return new Promise((resolve, reject) => {
        grpc.makeUnaryRequest(
          WHO_PATH,
          emptyRequest,
          nameReply,
          {},
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (error: ServiceError | null, name?: string) => (error ? reject(error) : resolve(name!)),
        );
      });
    },
  };
}

export interface ClientStats {
  sent: number;
  ok: number;
  failed: number;
  readonly errors: Map<string, number>;
  readonly servedBy: Map<string, number>;
}

/**
 * Sends requests in `lane` at `ratePerS` IN ALL, taking the clients in turn (so each gets a third),
 * until stopped. Paced by elapsed time (a late timer sends what is due, at most 30 per tick), so
 * the rate holds on a loaded machine. `nextPhase` counts what happens after an event separately.
 */
export function steadyLoad(clients: Record<ClientName, Send>, lane: string, ratePerS: number) {
  const fresh = (): Record<ClientName, ClientStats> =>
    Object.fromEntries(
      CLIENTS.map((c) => [c, { sent: 0, ok: 0, failed: 0, errors: new Map(), servedBy: new Map() }]),
    ) as Record<ClientName, ClientStats>;
  let stats = fresh();
  const phases: Array<Record<ClientName, ClientStats>> = [stats];
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  let due = 0;
  const sendOne = (client: ClientName) => {
    stats[client].sent++;
    const p = withLane(lane, async () => {
      try {
        const by = await clients[client]();
        // Outcomes count in the phase in which they happen: a request in flight at a kill fails after it.
        const s = stats[client];
        s.ok++;
        s.servedBy.set(by, (s.servedBy.get(by) ?? 0) + 1);
      } catch (error) {
        const s = stats[client];
        s.failed++;
        const e = error as { code?: unknown; message?: unknown };
        const code = `${String(e.code ?? '')} ${String(e.message ?? error)}`.slice(0, 160);
        s.errors.set(code, (s.errors.get(code) ?? 0) + 1);
      }
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  let turn = 0;
  const timer = setInterval(() => {
    const target = Math.floor(((Date.now() - startedAt) * ratePerS) / 1000);
    const n = Math.min(target - due, 30);
    due = target;
    for (let i = 0; i < n; i++) sendOne(CLIENTS[turn++ % CLIENTS.length]!);
  }, 5);
  return {
    get stats() {
      return stats;
    },
    /** Counts from now on in a new set of stats (requests already sent stay in the old one). */
    nextPhase() {
      stats = fresh();
      phases.push(stats);
      return stats;
    },
    phases,
    /** Stops sending, waits for every request sent; returns the achieved rate (all clients). */
    async stop(): Promise<number> {
      clearInterval(timer);
      const elapsedS = (Date.now() - startedAt) / 1000;
      await Promise.all(inFlight);
      const sent = phases.reduce((sum, p) => sum + CLIENTS.reduce((n, c) => n + p[c].sent, 0), 0);
      return Math.round(sent / elapsedS);
    },
  };
}

/** Resolves once discovery's set of `service` satisfies `match` (checked on every update). */
export function seen(
  discovery: Discovery,
  service: string,
  match: (ids: string[]) => boolean,
): Promise<void> {
  return new Promise((resolve) => {
    const unwatch = discovery.watch(service, (instances) => {
      if (!match(instances.map((i) => i.id))) return;
      unwatch();
      resolve();
    });
  });
}

/** `failed of completed`, with the errors. */
export function summary(stats: ClientStats): string {
  return `${stats.failed} of ${stats.ok + stats.failed} failed${stats.failed ? ` ${JSON.stringify([...stats.errors])}` : ''}`;
}

/** How instances come and go in {@link stopCycles}; the registry decides what "register" means. */
export interface Deployment {
  /** Starts instance `name` (it registers itself, or the deployment lists it). */
  start(name: string): Promise<Instance>;
  /** Stops it: SIGTERM (for a file registry, after removing its lines, as an orchestrator would). */
  stop(instance: Instance): void;
}

export interface StopCyclesResult {
  readonly cycles: number;
  /** Requests per second achieved, all clients together. */
  readonly ratePerS: number;
  readonly stats: Record<ClientName, ClientStats>;
  /** Fewest gray instances discovery listed for svc-b / svc-g once the first was up (same for both). */
  readonly minLane: { 'svc-b': number; 'svc-g': number };
  readonly maxLane: { 'svc-b': number; 'svc-g': number };
  /** How each stopped instance ended, and the time from SIGTERM to its exit. */
  readonly endings: ReadonlyArray<{ name: string; how: string; ms: number }>;
  /** Requests (all clients) each stopped instance served. */
  readonly served: ReadonlyArray<number>;
  /**
   * Deregistration propagation, per stop: from the stop (file written / SIGTERM sent) until this
   * process's discovery listed the instance in neither service (ms).
   */
  readonly propagation: ReadonlyArray<number>;
}

const debug = process.env.GL_DEBUG_STOP_CYCLES
  ? (...a: unknown[]) => console.error(Date.now() % 100_000, ...a)
  : () => {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Rolling stop/start under load: `slots` gray instances, started with staggered offsets. In each
 * slot a replacement starts while the current instance serves; once the replacement is listed
 * and the current one has served `upMs`, the current one is stopped — until `cycles` instances
 * have been stopped. Load runs on all three clients from before the first stop until every
 * stopped instance has drained and exited.
 */
export async function stopCycles(
  t: TestContext,
  discovery: Discovery,
  clients: Record<ClientName, Send>,
  deployment: Deployment,
  options: { cycles: number; slots: number; upMs: number; ratePerS: number },
): Promise<StopCyclesResult> {
  const lane = { 'svc-b': Number.POSITIVE_INFINITY, 'svc-g': Number.POSITIVE_INFINITY };
  const maxLane = { 'svc-b': 0, 'svc-g': 0 };
  let laneWatching = false;
  const unwatch = (['svc-b', 'svc-g'] as const).map((service) =>
    discovery.watch(service, (instances) => {
      if (!laneWatching) return;
      const gray = instances.filter((i) => i.id.startsWith('gray-')).length;
      lane[service] = Math.min(lane[service], gray);
      maxLane[service] = Math.max(maxLane[service], gray);
    }),
  );
  t.after(() => {
    for (const u of unwatch) u();
  });
  let next = 0;
  const startVisible = async (): Promise<Instance> => {
    const name = `gray-${next++}`;
    const visible = Promise.all([
      seen(discovery, 'svc-b', (ids) => ids.includes(name)),
      seen(discovery, 'svc-g', (ids) => ids.includes(name)),
    ]);
    debug('start', name);
    const instance = await deployment.start(name);
    debug('registered', name);
    await visible;
    debug('visible', name);
    laneWatching = true;
    return instance;
  };
  const servedBy = (name: string) =>
    CLIENTS.reduce((sum, c) => sum + (load.stats[c].servedBy.get(name) ?? 0), 0);

  // The lane has an instance before the first request: no gray request may ever reach base.
  const first = await startVisible();
  const load = steadyLoad(clients, 'gray', options.ratePerS);
  let stops = 0;
  const endings: Array<Promise<{ name: string; how: string; ms: number }>> = [];
  const served: number[] = [];
  const propagation: number[] = [];
  const propagated: Promise<unknown>[] = [];
  const slot = async (index: number) => {
    await sleep((index * options.upMs) / options.slots);
    let current = index === 0 ? first : await startVisible();
    while (stops < options.cycles) {
      // Rolling, surge one: the replacement starts while the current instance serves, and the
      // current one is stopped once the replacement is listed (the lane is never left empty).
      const next = startVisible();
      await Promise.all([sleep(options.upMs), next]);
      if (stops >= options.cycles) break;
      stops++;
      const stopped = current;
      const at = Date.now();
      const gone = Promise.all([
        seen(discovery, 'svc-b', (ids) => !ids.includes(stopped.name)),
        seen(discovery, 'svc-g', (ids) => !ids.includes(stopped.name)),
      ]).then(() => propagation.push(Date.now() - at));
      propagated.push(gone);
      deployment.stop(stopped);
      debug(
        'stopped',
        stopped.name,
        'stops',
        stops,
        'sent',
        CLIENTS.map((c) => load.stats[c].sent),
      );
      endings.push(stopped.exited.then((how) => ({ name: stopped.name, how, ms: Date.now() - at })));
      void stopped.exited.then(() => served.push(servedBy(stopped.name)));
      current = await next;
    }
  };
  let ratePerS = 0;
  try {
    await Promise.all(Array.from({ length: options.slots }, (_, i) => slot(i)));
    // Every stopped instance drains (default 5 s) and closes while the load still runs.
    await Promise.all(endings);
    await Promise.all(propagated);
    await sleep(200);
  } finally {
    ratePerS = await load.stop();
  }
  return {
    cycles: stops,
    ratePerS,
    stats: load.stats,
    minLane: lane,
    maxLane,
    endings: await Promise.all(endings),
    served,
    propagation,
  };
}

/** Reports a {@link stopCycles} run and asserts: 20 cycles, 0 failed on every client, none served by base, default drain, lane never empty. */
export function reportStopCycles(t: TestContext, result: StopCyclesResult): void {
  const ms = result.endings.map((e) => e.ms);
  t.diagnostic(
    `${result.cycles} SIGTERM stop/start cycles at ${result.ratePerS} req/s (all clients); gray instances listed: ` +
      `svc-b ${result.minLane['svc-b']}..${result.maxLane['svc-b']}, svc-g ${result.minLane['svc-g']}..${result.maxLane['svc-g']}; ` +
      `SIGTERM -> exit ${Math.min(...ms)}..${Math.max(...ms)} ms; served per stopped instance ${Math.min(...result.served)}..${Math.max(...result.served)}`,
  );
  const p = [...result.propagation].sort((a, b) => a - b);
  const q = (f: number) => p[Math.min(p.length - 1, Math.floor(f * p.length))];
  t.diagnostic(
    `deregistration -> this process's discovery dropped it (both services): p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms (n=${p.length})`,
  );
  for (const client of CLIENTS) t.diagnostic(`${client}: ${summary(result.stats[client])}`);
  assert.equal(result.cycles, 20);
  for (const client of CLIENTS) {
    const stats = result.stats[client];
    assert.equal(stats.failed, 0, `${client}: ${summary(stats)}`);
    assert.equal(stats.servedBy.get('stable') ?? 0, 0, `${client}: gray requests stay in the gray lane`);
    assert.ok(stats.ok > 500, `${client}: ${stats.ok} requests`);
  }
  // Each instance ended by the re-raised SIGTERM after its drain (the default handling), having served.
  assert.deepEqual(new Set(result.endings.map((e) => e.how)), new Set(['SIGTERM']));
  assert.ok(Math.min(...ms) >= 5_000, 'the default 5 s drain ran');
  assert.ok(result.minLane['svc-b'] >= 1 && result.minLane['svc-g'] >= 1, 'the lane always had an instance');
  assert.ok(Math.min(...result.served) > 0, 'every stopped instance served requests');
}

/**
 * A real etcd, a discovery reading it, and the stable instance (in this process) registered for
 * both services and seen by that discovery. All of it stops after the test.
 */
export async function startEtcdFleet(t: TestContext): Promise<{ endpoint: string; discovery: Discovery }> {
  const { etcd, discovery, writer } = await startEtcdDiscovery(t);
  const stable = await startStable(t);
  for (const [service, port] of [
    ['svc-b', stable.httpPort],
    ['svc-g', stable.grpcPort],
  ] as const) {
    const registration = await writer.register({ service, id: 'stable', host: '127.0.0.1', port });
    t.after(() => registration.close());
    await seen(discovery, service, (ids) => ids.includes('stable'));
  }
  return { endpoint: etcd.endpoint, discovery };
}
