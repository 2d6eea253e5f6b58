// Chain suite: edge -> a -> b as three processes per variant, load from autocannon against the edge.
// Every variant's chain is started once and kept warm; the measurement windows then interleave the
// variants (round r runs them in the order rotated by r), so drift on a shared machine hits every
// variant alike. Each window records throughput, p50/p99 latency (from autocannon's per-response
// timings, sub-millisecond) and server CPU per request: process.cpuUsage() of the three hops, read
// over IPC right before and right after the window, summed, divided by the responses in the window.
// Prints human-readable progress on stderr and one final `BENCH_JSON {...}` line on stdout.
//
//   node chain/driver.mjs [--quick] [--rounds N] [--duration S] [--warmup MAX_S] [--connections C]
//                         [--variants a,b,c]
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'undici';
import { percentileSorted, summarize } from '../lib/stats.mjs';

const SERVER = new URL('./server.mjs', import.meta.url).pathname;
const ALL_VARIANTS = ['bare', 'hand-copy', 'graylane-auto', 'graylane-interceptor', 'otel', 'cls-hooked'];
const START_TIMEOUT_MS = 60_000;
const IPC_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;
const MAX_SAMPLES = 2_000_000; // latency samples kept per window (bounded memory)
const LANE = 'gray';
const TAG = 'x-mse-tag';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    variants: { type: 'string' },
  },
});
const config = {
  rounds: Number(args.rounds ?? (args.quick ? 2 : 4)),
  durationS: Number(args.duration ?? (args.quick ? 1 : 3)),
  warmupS: Number(args.warmup ?? (args.quick ? 2 : 8)),
  warmupRequests: args.quick ? 1500 : 5000,
  connections: Number(args.connections ?? 16),
  variants: args.variants ? args.variants.split(',') : ALL_VARIANTS,
};
config.poolConnections = config.connections;

const log = (...parts) => console.error('[chain]', ...parts);

/** One hop process. */
class Hop {
  #child;
  #waiting = new Map();
  #nextId = 0;
  port = 0;

  constructor(role, variant, upstream) {
    this.role = role;
    this.#child = fork(SERVER, [], {
      env: {
        ...process.env,
        BENCH_ROLE: role,
        BENCH_VARIANT: variant,
        BENCH_UPSTREAM: upstream ?? '',
        BENCH_POOL: String(config.poolConnections),
      },
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} did not start`)), START_TIMEOUT_MS);
      this.#child.on('message', (m) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.port = m.port;
          resolve(this);
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`${role}: ${m.message}`));
        } else if (m.type === 'cpu') {
          const waiter = this.#waiting.get(m.id);
          this.#waiting.delete(m.id);
          waiter?.(m);
        }
      });
      this.#child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${role} exited (${code})`));
        for (const waiter of this.#waiting.values()) waiter(null);
        this.#waiting.clear();
      });
    });
    this.ready.catch(() => {});
  }

  /** { cpu: {user, system} µs, rss } of the process, over IPC. */
  usage() {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${this.role}: no cpuUsage reply`));
      }, IPC_TIMEOUT_MS);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m === null) reject(new Error(`${this.role} exited`));
        else resolve(m);
      });
      this.#child.send({ type: 'cpu', id });
    });
  }

  close() {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (child.connected) child.send({ type: 'close' });
      else child.kill('SIGTERM');
    });
  }
}

/** The three processes of one variant. */
class Chain {
  hops = [];
  error = undefined;

  constructor(variant) {
    this.variant = variant;
  }

  async start() {
    try {
      const b = new Hop('b', this.variant);
      this.hops.push(b);
      await b.ready;
      const a = new Hop('a', this.variant, `http://127.0.0.1:${b.port}`);
      this.hops.push(a);
      await a.ready;
      const edge = new Hop('edge', this.variant, `http://127.0.0.1:${a.port}`);
      this.hops.push(edge);
      await edge.ready;
      this.url = `http://127.0.0.1:${edge.port}/`;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
      await this.close();
    }
  }

  /** Summed user+system CPU µs and RSS bytes of the three hops. */
  async usage() {
    const replies = await Promise.all(this.hops.map((hop) => hop.usage()));
    let cpuUs = 0;
    let rss = 0;
    for (const r of replies) {
      cpuUs += r.cpu.user + r.cpu.system;
      rss += r.rss;
    }
    return { cpuUs, rss };
  }

  close() {
    return Promise.all(this.hops.map((hop) => hop.close()));
  }
}

/** What the last hop saw for a tagged, an untagged and an invalid tag: proves each variant works. */
async function probe(chain) {
  const client = new Client(chain.url.slice(0, -1));
  async function laneAtB(headers) {
    const { statusCode, body } = await client.request({ method: 'GET', path: '/', headers });
    const text = await body.text();
    if (statusCode !== 200) return `HTTP ${statusCode}`;
    return JSON.parse(text).lane;
  }
  try {
    return {
      tagged: await laneAtB({ [TAG]: LANE }),
      untagged: await laneAtB({}),
      invalid: await laneAtB({ [TAG]: 'not a lane!' }),
    };
  } finally {
    await client.close();
  }
}

const latencies = new Float64Array(MAX_SAMPLES);

/** One load window against a chain's edge. */
async function window(chain, seconds) {
  let count = 0;
  let ok = 0;
  const before = await chain.usage();
  const instance = autocannon({
    url: chain.url,
    connections: config.connections,
    pipelining: 1,
    duration: seconds,
    headers: { [TAG]: LANE },
  });
  instance.on('response', (_client, statusCode, _bytes, ms) => {
    if (count < MAX_SAMPLES) latencies[count] = ms;
    count++;
    if (statusCode >= 200 && statusCode < 300) ok++;
  });
  const result = await instance;
  const after = await chain.usage();
  const sorted = latencies.subarray(0, Math.min(count, MAX_SAMPLES)).sort();
  return {
    requests: count,
    rps: count / result.duration,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    cpuUsPerReq: count === 0 ? Number.NaN : (after.cpuUs - before.cpuUs) / count,
    rssMb: after.rss / 2 ** 20,
    errors: result.errors + result.timeouts + (count - ok),
    durationS: result.duration,
  };
}

/**
 * Load without recording, in 1 s windows, until the chain has served `warmupRequests` (so the JIT
 * has compiled the hot paths) or `warmupS` seconds have passed.
 */
async function warmUp(chain) {
  const started = Date.now();
  let served = 0;
  do served += (await window(chain, 1)).requests;
  while (served < config.warmupRequests && Date.now() - started < config.warmupS * 1000);
  log(`${chain.variant}: warmed up with ${served} requests`);
}

const METRICS = ['rps', 'p50Ms', 'p99Ms', 'cpuUsPerReq'];

/** Per-round paired ratios metric(v) / metric(base), summarized over rounds. */
function pairedRatios(rounds, base) {
  const out = {};
  for (const metric of METRICS) {
    const ratios = [];
    for (let r = 0; r < rounds.length; r++) {
      const b = base[r];
      if (b !== undefined && rounds[r] !== undefined) ratios.push(rounds[r][metric] / b[metric]);
    }
    out[metric] = summarize(ratios);
  }
  return out;
}

function target(name, variant, baseline, metric, op, limit, results) {
  const v = results[variant];
  if (v?.available !== true || results[baseline]?.available !== true) {
    return { name, variant, baseline, metric, op, limit, value: null, met: null };
  }
  const value =
    baseline === 'hand-copy'
      ? v.vsHandCopy[metric].median
      : pairedRatios(v.rounds, results[baseline].rounds)[metric].median;
  const met = op === '>=' ? value >= limit : value <= limit;
  return { name, variant, baseline, metric, op, limit, value, met };
}

async function main() {
  const started = Date.now();
  log(`node ${process.version}; variants ${config.variants.join(', ')}`);
  const chains = config.variants.map((v) => new Chain(v));
  await Promise.all(chains.map((c) => c.start()));
  let live = chains.filter((c) => c.error === undefined);
  const laneFailures = [];
  for (const c of chains) if (c.error !== undefined) log(`${c.variant}: not available (${c.error})`);

  const results = {};
  try {
    for (const c of chains) {
      results[c.variant] = { available: c.error === undefined, error: c.error, rounds: [] };
      if (c.error !== undefined) continue;
      const lanes = await probe(c);
      results[c.variant].lanes = lanes;
      log(`${c.variant}: lane at b tagged=${lanes.tagged} untagged=${lanes.untagged}`);
      // Every variant but `bare` must deliver the lane to b, and none may invent one: a variant
      // that does not carry it would measure too little. It is reported and not loaded, and the
      // driver exits non-zero after writing its record.
      const expected = c.variant === 'bare' ? null : LANE;
      if (lanes.tagged !== expected || lanes.untagged !== null) {
        const error = `does not carry the lane: b received ${JSON.stringify(lanes.tagged)} for a request tagged ${LANE} (expected ${JSON.stringify(expected)}) and ${JSON.stringify(lanes.untagged)} for an untagged one`;
        log(`${c.variant}: ${error}`);
        results[c.variant].available = false;
        results[c.variant].error = error;
        laneFailures.push(c.variant);
      }
    }
    live = live.filter((c) => results[c.variant].available);
    for (const c of live) await warmUp(c);
    for (let r = 0; r < config.rounds; r++) {
      for (let i = 0; i < live.length; i++) {
        const c = live[(i + r) % live.length];
        const w = await window(c, config.durationS);
        results[c.variant].rounds[r] = w;
        log(
          `round ${r + 1}/${config.rounds} ${c.variant.padEnd(20)} ${w.rps.toFixed(0).padStart(6)} req/s` +
            `  p99 ${w.p99Ms.toFixed(2)} ms  cpu ${w.cpuUsPerReq.toFixed(0)} µs/req  errors ${w.errors}`,
        );
      }
    }
  } finally {
    await Promise.all(chains.map((c) => c.close()));
  }

  for (const [name, v] of Object.entries(results)) {
    if (!v.available) continue;
    v.summary = {};
    for (const metric of [...METRICS, 'rssMb', 'errors'])
      v.summary[metric] = summarize(v.rounds.map((w) => w[metric]));
    if (results.bare?.available) v.vsBare = pairedRatios(v.rounds, results.bare.rounds);
    if (results['hand-copy']?.available) v.vsHandCopy = pairedRatios(v.rounds, results['hand-copy'].rounds);
    void name;
  }
  const targets = [
    target(
      'graylane automatic throughput >= 97% of hand-copy',
      'graylane-auto',
      'hand-copy',
      'rps',
      '>=',
      0.97,
      results,
    ),
    target(
      'graylane automatic CPU/request <= 1.05x hand-copy',
      'graylane-auto',
      'hand-copy',
      'cpuUsPerReq',
      '<=',
      1.05,
      results,
    ),
    target(
      'graylane automatic p99 within 5% of hand-copy',
      'graylane-auto',
      'hand-copy',
      'p99Ms',
      '<=',
      1.05,
      results,
    ),
    target(
      'graylane automatic throughput >= 2.5x OpenTelemetry',
      'graylane-auto',
      'otel',
      'rps',
      '>=',
      2.5,
      results,
    ),
    target(
      'graylane interceptor throughput >= 97% of hand-copy',
      'graylane-interceptor',
      'hand-copy',
      'rps',
      '>=',
      0.97,
      results,
    ),
    target(
      'graylane interceptor CPU/request <= 1.05x hand-copy',
      'graylane-interceptor',
      'hand-copy',
      'cpuUsPerReq',
      '<=',
      1.05,
      results,
    ),
    target(
      'graylane interceptor p99 within 5% of hand-copy',
      'graylane-interceptor',
      'hand-copy',
      'p99Ms',
      '<=',
      1.05,
      results,
    ),
  ];
  const out = {
    suite: 'chain',
    node: process.version,
    config,
    elapsedS: (Date.now() - started) / 1000,
    variants: results,
    targets,
  };
  process.stdout.write(`BENCH_JSON ${JSON.stringify(out)}\n`);
  if (laneFailures.length > 0) {
    log(`FAILED: ${laneFailures.join(', ')} did not carry the lane to b`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
