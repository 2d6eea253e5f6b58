// Small statistics helpers shared by the suites and the report.

/** Median of finite numbers (mean of the middle two for an even count); NaN when there are none. */
export function median(values) {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** Quantile `q` (0..1) of ascending-sorted numbers, interpolated between closest ranks. */
export function quantileSorted(xs, q) {
  if (xs.length === 0) return Number.NaN;
  const at = (xs.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return xs[lo] + (xs[hi] - xs[lo]) * (at - lo);
}

/**
 * { median, min, max, n, q1, q3 } of the finite numbers in `values`; q1 and q3 bound the
 * interquartile range (quantiles 0.25 and 0.75, interpolated).
 */
export function summarize(values) {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0)
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0, q1: Number.NaN, q3: Number.NaN };
  return {
    median: median(xs),
    min: xs[0],
    max: xs[xs.length - 1],
    n: xs.length,
    q1: quantileSorted(xs, 0.25),
    q3: quantileSorted(xs, 0.75),
  };
}

/** Percentile `p` (0..100) of an ascending-sorted typed array, nearest-rank. */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
