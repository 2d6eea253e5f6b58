import { InvalidPlanError } from './errors';
import { describeValue, isRecord } from './validate';

/**
 * Thresholds an analysis checks on the edge's own per-lane counters since the current step began:
 * the lane's 5xx ratio, and its latency percentile against the base lane's.
 *
 * @example
 * // "gray 5xx ratio <= 1% and p99 <= 1.2x base over >= 200 requests"
 * const analysis: AnalysisOptions = { minRequests: 200, maxErrorRatio: 0.01, maxLatencyRatio: 1.2, latencyPercentile: 99 };
 */
export interface AnalysisOptions {
  /** Lane requests needed before judging. Default 200. */
  readonly minRequests?: number;
  /** Largest 5xx share of the lane's requests, 0..1. Default 0.01. */
  readonly maxErrorRatio?: number;
  /** Largest ratio of the lane's latency percentile to the base lane's. Default: not checked. */
  readonly maxLatencyRatio?: number;
  /** Which percentile `maxLatencyRatio` compares, 50..99.9. Default 99. */
  readonly latencyPercentile?: number;
  /** Base requests needed before latency is compared (else latency is not judged). Default `minRequests`. */
  readonly minBaseRequests?: number;
}

/** @internal */
export interface CompiledAnalysis {
  readonly minRequests: number;
  readonly maxErrorRatio: number;
  readonly maxLatencyRatio: number | null;
  readonly latencyPercentile: number;
  readonly minBaseRequests: number;
}

/** Figures of one lane since the current step began, as the analysis read them. */
export interface LaneFigures {
  readonly requests: number;
  /** Responses with status >= 500. */
  readonly errors: number;
  /** `errors / requests` (0 without requests). */
  readonly errorRatio: number;
  /** Latency percentiles in ms (bucket upper bounds, within 5%), `null` without requests. */
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

/** What an analysis concluded. */
export interface AnalysisVerdict {
  readonly result: 'pass' | 'fail' | 'inconclusive';
  /** Why, in words (the abort reason on `fail`). */
  readonly reason: string;
  readonly lane: LaneFigures;
  readonly base: LaneFigures;
}

const KEYS = ['minRequests', 'maxErrorRatio', 'maxLatencyRatio', 'latencyPercentile', 'minBaseRequests'];

/** @internal Validates analysis options. */
export function compileAnalysis(raw: unknown, path: string): CompiledAnalysis {
  const r = raw ?? {};
  if (!isRecord(r)) throw new InvalidPlanError(path, `expected analysis options, got ${describeValue(raw)}`);
  for (const key of Object.keys(r)) {
    if (!KEYS.includes(key))
      throw new InvalidPlanError(`${path}.${key}`, `unknown field; expected one of ${KEYS.join(', ')}`);
  }
  const num = (key: string, fallback: number, ok: (n: number) => boolean, what: string): number => {
    const v = r[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new InvalidPlanError(`${path}.${key}`, `expected ${what}, got ${describeValue(v)}`);
    }
    return v;
  };
  const minRequests = num('minRequests', 200, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
  return {
    minRequests,
    maxErrorRatio: num('maxErrorRatio', 0.01, (n) => n >= 0 && n <= 1, 'a ratio from 0 to 1'),
    maxLatencyRatio:
      r.maxLatencyRatio === undefined ? null : num('maxLatencyRatio', 0, (n) => n > 0, 'a ratio > 0'),
    latencyPercentile: num(
      'latencyPercentile',
      99,
      (n) => n >= 50 && n <= 99.9,
      'a percentile from 50 to 99.9',
    ),
    minBaseRequests: num(
      'minBaseRequests',
      minRequests,
      (n) => Number.isInteger(n) && n >= 1,
      'an integer >= 1',
    ),
  };
}

// Latency histogram: bucket i holds durations up to FIRST_BUCKET_MS * GROWTH^i (5% wide).
const FIRST_BUCKET_MS = 0.01;
const GROWTH = 1.05;
const BUCKETS = 400;
const LOG_GROWTH = Math.log(GROWTH);

/** @internal Counters of one lane: requests, 5xx, and a log-bucket latency histogram. */
export class LaneCounter {
  requests = 0;
  errors = 0;
  readonly histogram = new Float64Array(BUCKETS);

  record(status: number, durationMs: number): void {
    this.requests++;
    if (status >= 500) this.errors++;
    const i =
      durationMs <= FIRST_BUCKET_MS ? 0 : Math.ceil(Math.log(durationMs / FIRST_BUCKET_MS) / LOG_GROWTH);
    this.histogram[i < BUCKETS ? i : BUCKETS - 1]!++;
  }

  reset(): void {
    this.requests = 0;
    this.errors = 0;
    this.histogram.fill(0);
  }

  percentile(p: number): number | null {
    if (this.requests === 0) return null;
    const rank = Math.ceil((p / 100) * this.requests);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.histogram[i]!;
      if (seen >= rank) return round(FIRST_BUCKET_MS * GROWTH ** i);
    }
    return round(FIRST_BUCKET_MS * GROWTH ** (BUCKETS - 1));
  }

  figures(): LaneFigures {
    return {
      requests: this.requests,
      errors: this.errors,
      errorRatio: this.requests === 0 ? 0 : this.errors / this.requests,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

/** @internal Judges the lane against the base with these thresholds. */
export function judge(
  analysis: CompiledAnalysis,
  laneName: string,
  lane: LaneCounter,
  base: LaneCounter,
): AnalysisVerdict {
  const laneFigures = lane.figures();
  const baseFigures = base.figures();
  const verdict = (result: AnalysisVerdict['result'], reason: string): AnalysisVerdict => ({
    result,
    reason,
    lane: laneFigures,
    base: baseFigures,
  });
  if (lane.requests < analysis.minRequests) {
    return verdict('inconclusive', `${lane.requests} of ${analysis.minRequests} ${laneName} requests`);
  }
  if (laneFigures.errorRatio > analysis.maxErrorRatio) {
    return verdict(
      'fail',
      `${laneName} 5xx ratio ${percent(laneFigures.errorRatio)} > ${percent(analysis.maxErrorRatio)} over ${lane.requests} requests`,
    );
  }
  if (analysis.maxLatencyRatio !== null && base.requests >= analysis.minBaseRequests) {
    const p = analysis.latencyPercentile;
    const laneP = lane.percentile(p)!;
    const baseP = base.percentile(p)!;
    if (laneP > analysis.maxLatencyRatio * baseP) {
      return verdict(
        'fail',
        `${laneName} p${p} ${laneP} ms > ${analysis.maxLatencyRatio} x base p${p} ${baseP} ms over ${lane.requests} requests`,
      );
    }
  }
  return verdict(
    'pass',
    `${laneName} 5xx ratio ${percent(laneFigures.errorRatio)} <= ${percent(analysis.maxErrorRatio)} over ${lane.requests} requests`,
  );
}
