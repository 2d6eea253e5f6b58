// How fast a change in etcd reaches the consumers of the etcd registry. Not a test: run it by
// hand or through `npm run bench -- --suites etcd-convergence`.
//
//   npx tsc -b packages/discovery && node --import tsx packages/discovery/bench/etcd-convergence.bench.ts [--quick]
//
// A real etcd (test/helpers/etcd.ts: `ETCD_BIN` or `etcd` on PATH) on loopback. One writer client
// makes CHANGES changes, one at a time, to the keys of one service (a put of a new instance or a
// delete of one, alternating over 8 ids), and waits until the change is visible before the next:
//
// - put -> registry: from just before the put call to the registry listener seeing the new set;
// - ack -> registry: from the put/delete response to that delivery (negative when the watch event
//   overtook the response);
// - put -> discovery: to `createDiscovery().watch()` seeing it, i.e. when `pick()` can choose it.
//
// Prints a summary on stdout and a last `BENCH_JSON {...}` line for bench/run.mjs.
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createDiscovery, type Instance } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../../../test/helpers/etcd';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const CHANGES = QUICK ? 200 : 1_000;
const WARMUP = 20;
const IDS = 8;
/** Per-change bound: a change not visible by then aborts the run. */
const CHANGE_TIMEOUT_MS = 10_000;
const SERVICE = 'bench';
const PREFIX = '/graylane/services';

const say = (...parts: unknown[]) => console.error('[etcd-convergence]', ...parts);

interface Stats {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1)!),
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

/** Resolves when `signature(instances)` equals the expected one; records when. */
class Arrival {
  #expected = '';
  #resolve: ((at: number) => void) | undefined;

  expect(signature: string): Promise<number> {
    this.#expected = signature;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`change not visible after ${CHANGE_TIMEOUT_MS} ms`)),
        CHANGE_TIMEOUT_MS,
      );
      this.#resolve = (at) => {
        clearTimeout(timer);
        resolve(at);
      };
    });
  }

  seen(instances: readonly Instance[]): void {
    const at = performance.now();
    if (this.#resolve !== undefined && signatureOf(instances) === this.#expected) {
      const resolve = this.#resolve;
      this.#resolve = undefined;
      resolve(at);
    }
  }
}

function signatureOf(instances: readonly Instance[]): string {
  return instances
    .map((i) => `${i.id}@${i.port}`)
    .sort()
    .join(',');
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  const registry = etcdRegistry({ endpoints: etcd.endpoint });
  const discovery = createDiscovery({ registry });
  const writer = new Etcd3({ hosts: etcd.endpoint });
  const viaRegistry = new Arrival();
  const viaDiscovery = new Arrival();
  const unsubscribe = registry.subscribe(SERVICE, (update) => {
    if (update.ok) viaRegistry.seen(update.instances);
  });
  const unwatch = discovery.watch(SERVICE, (instances) => viaDiscovery.seen(instances));
  await discovery.ready(SERVICE);

  const present = new Map<string, number>();
  const putToRegistry: number[] = [];
  const ackToRegistry: number[] = [];
  const putToDiscovery: number[] = [];
  const started = performance.now();
  for (let i = 0; i < WARMUP + CHANGES; i++) {
    const id = `i${i % IDS}`;
    const key = `${PREFIX}/${SERVICE}/${id}`;
    if (present.has(id)) present.delete(id);
    else present.set(id, 10_000 + i);
    const expected = [...present]
      .map(([pid, port]) => `${pid}@${port}`)
      .sort()
      .join(',');
    const registrySeen = viaRegistry.expect(expected);
    const discoverySeen = viaDiscovery.expect(expected);
    const t0 = performance.now();
    if (present.has(id))
      await writer.put(key).value(JSON.stringify({ host: '127.0.0.1', port: present.get(id) }));
    else await writer.delete().key(key);
    const ack = performance.now();
    const [atRegistry, atDiscovery] = await Promise.all([registrySeen, discoverySeen]);
    if (i >= WARMUP) {
      putToRegistry.push(atRegistry - t0);
      ackToRegistry.push(atRegistry - ack);
      putToDiscovery.push(atDiscovery - t0);
    }
  }
  const elapsedS = (performance.now() - started) / 1000;

  unwatch();
  unsubscribe();
  await discovery.close();
  await registry.close();
  writer.close();
  await etcd.close();

  const results = {
    putToRegistryMs: stats(putToRegistry),
    ackToRegistryMs: stats(ackToRegistry),
    putToDiscoveryMs: stats(putToDiscovery),
    changesPerSecond: Math.round((WARMUP + CHANGES) / elapsedS),
  };
  const line = (name: string, s: Stats) =>
    `${name.padEnd(18)} p50 ${s.p50.toFixed(2)} ms  p90 ${s.p90.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  max ${s.max.toFixed(2)} ms`;
  console.log(
    `etcd convergence, ${CHANGES} changes (after ${WARMUP} warm-up), Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`,
  );
  console.log(line('put -> registry', results.putToRegistryMs));
  console.log(line('ack -> registry', results.ackToRegistryMs));
  console.log(line('put -> discovery', results.putToDiscoveryMs));
  console.log(`sequential changes/s (write, then wait until visible): ${results.changesPerSecond}`);
  console.log(
    `BENCH_JSON ${JSON.stringify({
      suite: 'etcd-convergence',
      node: process.version,
      config: { changes: CHANGES, warmup: WARMUP, ids: IDS, quick: QUICK },
      results,
    })}`,
  );
}

main().catch((err: unknown) => {
  say(err);
  process.exitCode = 1;
});
