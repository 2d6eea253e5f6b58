// Small statistics helpers shared by the suites and the report.

/** Median of finite numbers (mean of the middle two for an even count); NaN when there are none. */
export function median(values) {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** { median, min, max, n } of the finite numbers in `values`. */
export function summarize(values) {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** Percentile `p` (0..100) of an ascending-sorted typed array, nearest-rank. */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
