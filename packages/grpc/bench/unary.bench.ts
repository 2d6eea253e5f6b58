// gRPC unary calls/s, one process, loopback: a bare client and server against the same pair with
// both lane interceptors (calls in lane `gray`, and untagged), and against a `graylane:///` lane
// channel. Variants run in interleaved rounds (rotating order) so each ratio compares windows of
// the same machine state; ratios are medians of per-round ratios against `bare`. Besides calls/s,
// each window records process CPU time per call (client and server share this process), which
// stays meaningful when other processes compete for the cores and wall-clock throughput does not.
// A second part measures LanePicker.pick: ns/op and young-generation GCs over 10^7 picks (zero
// GCs = no allocation per pick), next to grpc-js's Metadata.get alone, which the picker calls once.
//
//   node --import tsx packages/grpc/bench/unary.bench.ts [--quick] [--picker-only]
//
// Prints progress on stderr, a summary on stdout and a last `BENCH_JSON {...}` line for bench/run.mjs.
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { currentLane, withLane } from '@graylane/core';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import {
  LanePicker,
  laneClientInterceptor,
  laneServerInterceptor,
  registerLaneChannel,
} from '@graylane/grpc';
import {
  type ClientOptions,
  credentials,
  experimental,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServiceClientConstructor,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 20;
const WINDOW_MS = QUICK ? 500 : 1000;
const CONCURRENCY = 16;
const PICKS = QUICK ? 1e6 : 1e7;
const TARGET = 0.95;

const log = (line: string) => process.stderr.write(`[grpc-unary] ${line}\n`);

const definition = loadSync(join(__dirname, '..', 'test', 'fixtures', 'echo.proto'), { keepCase: true });
const Echo = ((loadPackageDefinition(definition).graylane as GrpcObject).test as GrpcObject)
  .Echo as ServiceClientConstructor;
type Unary = (req: object, md: Metadata, cb: (error: ServiceError | null) => void) => void;

async function startServer(interceptors: ServerInterceptor[]): Promise<{ port: number; server: Server }> {
  const server = new Server({ interceptors });
  server.addService(Echo.service, {
    Unary(_call: unknown, cb: sendUnaryData<object>) {
      cb(null, { lane: currentLane() ?? '' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { port, server };
}

interface Window {
  /** Completed calls per second of wall time. */
  readonly rate: number;
  /** Process CPU time (user + system: client and server, both in this process) per call, µs. */
  readonly cpuUs: number;
}

interface Variant {
  readonly name: string;
  readonly call: () => Promise<void>;
  readonly rounds: Window[];
}

function unaryCall(client: InstanceType<ServiceClientConstructor>): () => Promise<void> {
  const method = (client as unknown as { Unary: Unary }).Unary.bind(client);
  return () =>
    new Promise<void>((resolve, reject) =>
      method({}, new Metadata(), (error) => (error ? reject(error) : resolve())),
    );
}

/** Calls/s and CPU µs per call of `call` at CONCURRENCY in flight for WINDOW_MS. */
async function window(call: () => Promise<void>): Promise<Window> {
  let done = 0;
  const deadline = performance.now() + WINDOW_MS;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await call();
        done++;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { rate: (done / elapsedMs) * 1000, cpuUs: (used.user + used.system) / done };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summary(xs: number[]) {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

async function pickerBench() {
  const registry = staticRegistry({
    env: false,
    instances: [
      { service: 'svc-pick', id: 'stable', host: '10.0.0.1', port: 1 },
      {
        service: 'svc-pick',
        id: 'gray',
        host: '10.0.0.2',
        port: 1,
        labels: { 'alicloud.service.tag': 'gray' },
      },
    ],
  });
  const discovery = createDiscovery({ registry });
  await discovery.ready('svc-pick');
  // Entries as the load balancer builds them for READY instances: a ready-made COMPLETE result.
  const byInstance = new Map();
  const byAddress = new Map();
  for (const instance of discovery.instances('svc-pick')) {
    const entry = {
      leaf: null,
      state: 2, // READY
      result: {
        pickResultType: experimental.PickResultType.COMPLETE,
        subchannel: { instance },
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      },
    };
    byInstance.set(instance, entry);
    byAddress.set(`${instance.host}:${instance.port}`, entry);
  }
  const picker = new LanePicker(discovery, 'svc-pick', 'x-mse-tag', byInstance as never, byAddress as never);
  const results: Record<string, { nsPerOp: number; youngGcs: number }> = {};
  const measure = async (name: string, op: () => unknown) => {
    for (let i = 0; i < 1e5; i++) op(); // warm up
    let gcs = 0;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        if (((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === 1) gcs++;
    });
    observer.observe({ entryTypes: ['gc'] });
    const start = process.hrtime.bigint();
    for (let i = 0; i < PICKS; i++) op();
    const ns = Number(process.hrtime.bigint() - start) / PICKS;
    await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries arrive asynchronously
    observer.disconnect();
    results[name] = { nsPerOp: ns, youngGcs: gcs };
    log(`${name.padEnd(40)} ${ns.toFixed(0).padStart(5)} ns/op  young GCs over ${PICKS} ops: ${gcs}`);
  };
  for (const lane of ['gray', 'base', 'feature-x'] as const) {
    const metadata = new Metadata();
    if (lane !== 'base') metadata.set('x-mse-tag', lane);
    const args = { metadata, extraPickInfo: {} };
    await measure(`LanePicker.pick, lane ${lane}`, () => picker.pick(args));
    // The picker's one read of grpc-js's Metadata, alone: what it allocates is grpc-js's.
    await measure(`Metadata.get alone, lane ${lane}`, () => metadata.get('x-mse-tag'));
  }
  await discovery.close();
  await registry.close();
  return results;
}

/**
 * What the two interceptors cost per unary call on their own, on grpc-js's real intercepting
 * classes with stubbed layers below: client (create the call in lane gray, start with metadata,
 * send one message, half-close) and server (create, start, metadata with x-mse-tag: gray, one
 * message, half-close: the events of a unary call). ns per call, minus an empty loop.
 */
function isolatedCost(): { clientNs: number; serverNs: number } {
  const N = QUICK ? 5e4 : 2e5;
  const noop = () => {};
  const stubClientCall = {
    start: noop,
    sendMessageWithContext: noop,
    sendMessage: noop,
    startRead: noop,
    halfClose: noop,
    cancelWithStatus: noop,
    getPeer: () => '',
  };
  const nextCall = () => stubClientCall as never;
  const clientInterceptor = laneClientInterceptor();
  const callOptions = {} as never;
  const listener = { onReceiveMetadata: noop, onReceiveMessage: noop, onReceiveStatus: noop };
  const stubServerCall = {
    listener: null as null | {
      onReceiveMetadata(m: Metadata): void;
      onReceiveMessage(m: unknown): void;
      onReceiveHalfClose(): void;
    },
    start(l: never) {
      this.listener = l;
    },
    sendMetadata: noop,
    sendMessage: noop,
    sendStatus: noop,
    startRead: noop,
    getPeer: () => '',
    getDeadline: () => Infinity,
    getHost: () => '',
  };
  const serverInterceptor = laneServerInterceptor();
  const method = {} as never;
  const downstream = {
    onReceiveMetadata: noop,
    onReceiveMessage: noop,
    onReceiveHalfClose: noop,
    onCancel: noop,
  };
  const inbound = new Metadata();
  inbound.set('x-mse-tag', 'gray');
  // Median of 7 timed loops: robust to the other processes sharing the machine.
  const time = (op: () => void): number => {
    for (let i = 0; i < N / 10; i++) op();
    const samples: number[] = [];
    for (let run = 0; run < 7; run++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < N; i++) op();
      samples.push(Number(process.hrtime.bigint() - start) / N);
    }
    return median(samples);
  };
  const message = {};
  const clientOp = () => {
    const call = clientInterceptor(callOptions, nextCall);
    call.start(new Metadata(), listener);
    call.sendMessageWithContext({}, message);
    call.halfClose();
  };
  const serverOp = () => {
    const call = serverInterceptor(method, stubServerCall as never);
    call.start(downstream);
    const l = stubServerCall.listener!;
    l.onReceiveMetadata(inbound);
    l.onReceiveMessage(message);
    l.onReceiveHalfClose();
  };
  const emptyClient = time(() => {
    new Metadata();
  });
  const clientNs = withLane('gray', () => time(clientOp)) - emptyClient;
  const serverNs = time(serverOp);
  log(
    `isolated: client interceptor ${clientNs.toFixed(0)} ns/call, server interceptor ${serverNs.toFixed(0)} ns/call`,
  );
  return { clientNs, serverNs };
}

async function main() {
  if (process.argv.includes('--picker-only')) {
    await pickerBench();
    isolatedCost();
    return;
  }
  const bare = await startServer([]);
  const lane = await startServer([laneServerInterceptor()]);
  const laneGray = await startServer([laneServerInterceptor()]);
  const insecure = credentials.createInsecure();
  const withInterceptor: ClientOptions = { interceptors: [laneClientInterceptor()] };
  const bareClient = new Echo(`127.0.0.1:${bare.port}`, insecure);
  const laneClient = new Echo(`127.0.0.1:${lane.port}`, insecure, withInterceptor);

  const registry = staticRegistry({
    env: false,
    instances: [
      { service: 'svc-bench', id: 'base', host: '127.0.0.1', port: lane.port },
      {
        service: 'svc-bench',
        id: 'gray',
        host: '127.0.0.1',
        port: laneGray.port,
        labels: { 'alicloud.service.tag': 'gray' },
      },
    ],
  });
  const discovery = createDiscovery({ registry });
  const registration = registerLaneChannel({ discovery });
  const channelClient = new Echo('graylane:///svc-bench', insecure, withInterceptor);

  const bareCall = unaryCall(bareClient);
  const laneCall = unaryCall(laneClient);
  const channelCall = unaryCall(channelClient);
  const variants: Variant[] = [
    { name: 'bare', call: bareCall, rounds: [] },
    // The same bare call made from code that already runs in a lane (as request code does behind
    // laneMiddleware): the ALS context alone, without the interceptors.
    { name: 'bare, called in lane gray', call: () => withLane('gray', bareCall), rounds: [] },
    { name: 'interceptors, lane gray', call: () => withLane('gray', laneCall), rounds: [] },
    { name: 'interceptors, untagged', call: laneCall, rounds: [] },
    { name: 'lane channel + interceptors, lane gray', call: () => withLane('gray', channelCall), rounds: [] },
  ];
  log(
    `node ${process.version}, ${ROUNDS} rounds x ${WINDOW_MS} ms per variant, ${CONCURRENCY} calls in flight`,
  );
  for (const v of variants) await window(v.call); // warm up: connections, JIT
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + r) % variants.length]!;
      const w = await window(v.call);
      v.rounds[r] = w;
      log(
        `round ${r + 1}/${ROUNDS} ${v.name.padEnd(40)} ${w.rate.toFixed(0).padStart(6)} calls/s` +
          `  ${w.cpuUs.toFixed(0).padStart(5)} µs CPU/call`,
      );
    }
  }
  bareClient.close();
  laneClient.close();
  channelClient.close();
  registration.close();
  await discovery.close();
  await registry.close();
  for (const s of [bare, lane, laneGray]) s.server.forceShutdown();

  const baseline = variants[0]!.rounds;
  type Summary = ReturnType<typeof summary>;
  const out: Record<
    string,
    { callsPerSecond: Summary; vsBare: Summary; cpuUsPerCall: Summary; cpuVsBare: Summary }
  > = {};
  for (const v of variants) {
    out[v.name] = {
      callsPerSecond: summary(v.rounds.map((w) => w.rate)),
      vsBare: summary(v.rounds.map((w, r) => w.rate / baseline[r]!.rate)),
      cpuUsPerCall: summary(v.rounds.map((w) => w.cpuUs)),
      cpuVsBare: summary(v.rounds.map((w, r) => w.cpuUs / baseline[r]!.cpuUs)),
    };
  }
  const picker = await pickerBench();
  const isolated = isolatedCost();
  const bareCpuNs = out.bare!.cpuUsPerCall.median * 1000;
  const isolatedShare = (isolated.clientNs + isolated.serverNs) / bareCpuNs;
  const ratio = out['interceptors, lane gray']!.vsBare.median;
  const cpuRatio = out['interceptors, lane gray']!.cpuVsBare.median;
  // Interceptors against the bare call made from the same (lane) context, paired per round.
  const inLane = variants.find((v) => v.name === 'bare, called in lane gray')!.rounds;
  const laneRounds = variants.find((v) => v.name === 'interceptors, lane gray')!.rounds;
  const vsBareInLane = {
    callsPerSecond: summary(laneRounds.map((w, r) => w.rate / inLane[r]!.rate)),
    cpuUsPerCall: summary(laneRounds.map((w, r) => w.cpuUs / inLane[r]!.cpuUs)),
  };
  const targets = [
    {
      name: 'gRPC unary with both lane interceptors (lane gray) >= 95% of bare calls/s',
      variant: 'interceptors, lane gray',
      baseline: 'bare',
      metric: 'callsPerSecond',
      op: '>=',
      limit: TARGET,
      value: ratio,
      met: ratio >= TARGET,
    },
    {
      name: 'gRPC unary with both lane interceptors (lane gray): CPU per call <= 105% of bare',
      variant: 'interceptors, lane gray',
      baseline: 'bare',
      metric: 'cpuUsPerCall',
      op: '<=',
      limit: 2 - TARGET,
      value: cpuRatio,
      met: cpuRatio <= 2 - TARGET,
    },
    {
      name: 'gRPC unary with both lane interceptors (lane gray) >= 95% of bare called in the same lane, calls/s',
      variant: 'interceptors, lane gray',
      baseline: 'bare, called in lane gray',
      metric: 'callsPerSecond',
      op: '>=',
      limit: TARGET,
      value: vsBareInLane.callsPerSecond.median,
      met: vsBareInLane.callsPerSecond.median >= TARGET,
    },
  ];
  const range = (x: Summary) => `${x.median.toFixed(3)} (${x.min.toFixed(3)}–${x.max.toFixed(3)})`;
  console.log('variant | calls/s | calls/s vs bare | CPU µs/call | CPU/call vs bare');
  for (const [name, v] of Object.entries(out)) {
    console.log(
      `${name} | ${v.callsPerSecond.median.toFixed(0)} | ${range(v.vsBare)} | ` +
        `${v.cpuUsPerCall.median.toFixed(0)} | ${range(v.cpuVsBare)}`,
    );
  }
  console.log('(medians over rounds; ratios are medians of per-round ratios, min–max in parentheses)');
  console.log(
    `interceptors (lane gray) vs bare called in lane gray: calls/s ${range(vsBareInLane.callsPerSecond)}, ` +
      `CPU/call ${range(vsBareInLane.cpuUsPerCall)}`,
  );
  console.log(
    `interceptors in isolation: client ${isolated.clientNs.toFixed(0)} ns + server ${isolated.serverNs.toFixed(0)} ns ` +
      `per call = ${(isolatedShare * 100).toFixed(2)}% of bare's ${out.bare!.cpuUsPerCall.median.toFixed(0)} µs CPU/call`,
  );
  console.log(
    `BENCH_JSON ${JSON.stringify({
      suite: 'grpc-unary',
      node: process.version,
      config: { rounds: ROUNDS, windowMs: WINDOW_MS, concurrency: CONCURRENCY, picks: PICKS, quick: QUICK },
      variants: out,
      picker,
      interceptorsVsBareInLane: vsBareInLane,
      isolated: { ...isolated, shareOfBareCpuPerCall: isolatedShare },
      targets,
    })}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
