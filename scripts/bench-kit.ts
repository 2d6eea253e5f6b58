// Shared by the per-package suites (packages/*/bench/*.bench.ts), which import it by relative path:
// bytes allocated per op, mitata's ns/op by case, and the result table with its `BENCH_JSON` line.
//
// Bytes per op: V8's used heap size is read right after a minor GC and again after a window of
// `window` ops; the difference over `window` is one sample. A window allocating even 8 bytes per op
// (80 KB) fits in the young generation, so no scavenge hides it; windows in which a GC ran anyway
// (negative difference) are dropped. The figure is the median sample.

import { loadavg } from 'node:os';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Window size and count of {@link bytesPerOp}. */
export interface Windows {
  /** Ops per window. */
  readonly window: number;
  /** Windows measured; the median is reported. */
  readonly windows: number;
}

// gc() is exposed only on the first measurement, after the timing runs: mitata collects between
// samples when it can, which on a large heap would dominate the timings.
let gc: ((options?: { type: 'major' | 'minor' }) => void) | undefined;
let sink: unknown;

/**
 * Median bytes allocated per op over `windows` windows of `window` ops.
 *
 * @example
 * const bytes = bytesPerOp(() => ({ id: 1 }), { window: 10_000, windows: 10 }); // about 16-24
 */
export function bytesPerOp(op: () => unknown, { window, windows }: Windows): number {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;
  }
  for (let i = 0; i < window; i++) sink = op();
  const samples: number[] = [];
  gc();
  for (let w = 0; w < windows; w++) {
    gc({ type: 'minor' }); // empties the young generation, where the window's allocations would go
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < window; i++) sink = op();
    const after = getHeapStatistics().used_heap_size;
    if (after >= before) samples.push((after - before) / window);
  }
  void sink;
  samples.sort((a, b) => a - b);
  return samples.length === 0 ? Number.NaN : samples[samples.length >> 1]!;
}

/** The part of mitata's `run()` result read here. */
interface MitataTrial {
  readonly alias: string;
  readonly runs: ReadonlyArray<{ readonly stats?: { readonly p50: number; readonly avg: number } }>;
}

/**
 * ns/op by bench name: mitata's median sample (p50) and mean. On a shared machine the mean mostly
 * measures preemption, so p50 is the reported figure.
 *
 * @example
 * const { benchmarks } = await run({ throw: true });
 * const ns = nsByName(benchmarks).get('baseline')!.p50;
 */
export function nsByName(benchmarks: readonly MitataTrial[]): Map<string, { p50: number; avg: number }> {
  const byName = new Map<string, { p50: number; avg: number }>();
  for (const trial of benchmarks) {
    const stats = trial.runs[0]!.stats!;
    byName.set(trial.alias, { p50: stats.p50, avg: stats.avg });
  }
  return byName;
}

/** One target row of `BENCH_JSON` (see bench/README.md). */
export interface Target {
  readonly name: string;
  readonly op: string;
  readonly limit: number;
  readonly value: number;
  readonly met: boolean;
}

/** What {@link printResults} prints. */
export interface Results<K extends string> extends Windows {
  /** Suite id in `BENCH_JSON`. */
  readonly suite: string;
  readonly quick: boolean;
  /** Key of the bytes column in each row (`bytesPerOp`, `bytesPerPick`); its label is `bytes/<unit>`. */
  readonly bytesKey: K;
  readonly bytesUnit: string;
  readonly rows: Record<string, { nsPerOp: number; nsAvg: number } & Record<K, number>>;
  /** Bytes per op of the control that allocates one `{ id }` per op. */
  readonly controlBytes: number;
  readonly targets: readonly Target[];
}

/**
 * Prints the table (case | ns/op p50 | ns/op mean | bytes), the control, the runtime and load
 * average, and last the `BENCH_JSON` line the runner renders into RESULTS.md.
 *
 * @example
 * printResults({ suite: 'pick', quick, window, windows, bytesKey: 'bytesPerPick', bytesUnit: 'pick', rows, controlBytes, targets });
 */
export function printResults<K extends string>(results: Results<K>): void {
  const { suite, quick, window, windows, bytesKey, bytesUnit, rows, controlBytes, targets } = results;
  console.log(`\ncase | ns/op (p50) | ns/op (mean) | bytes/${bytesUnit}`);
  for (const [name, r] of Object.entries(rows)) {
    console.log(`${name} | ${r.nsPerOp.toFixed(1)} | ${r.nsAvg.toFixed(1)} | ${r[bytesKey].toFixed(2)}`);
  }
  console.log(`control (allocates one { id } per op) | - | - | ${controlBytes.toFixed(2)}`);
  console.log(
    `node ${process.version}, ${process.arch}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    `BENCH_JSON ${JSON.stringify({
      suite,
      node: process.version,
      config: { window, windows, quick, nsPerOp: 'mitata p50', loadAverage: loadavg() },
      cases: rows,
      controlBytesPerOp: controlBytes,
      targets,
    })}`,
  );
}
