// Smooth weighted round-robin, precomputed: one period of the nginx sequence as an index array,
// so a pick is one array read and one increment whatever the number of instances.

/** A schedule never needs to be longer than this, or than 4 entries per instance. */
export const MIN_SCHEDULE_CAP = 1 << 16;
/** Above this many (instances x schedule length) steps, the heap construction is used. */
const NAIVE_BUDGET = 1 << 22;

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/**
 * One period of the smooth weighted round-robin sequence over `weights` (all > 0).
 *
 * Weights are divided by their gcd, so the period is the sum of reduced weights and the sequence
 * is exact. When that sum exceeds max(65,536, 4 x instances), weights are scaled down to fit
 * (each instance keeps at least 1 slot); shares are then exact to within 0.5 slot each.
 * Small inputs run nginx's algorithm step by step (identical sequence); large ones order slots by
 * the midpoint of each instance's k-th interval, (k + 1/2) / w, which is equally smooth.
 */
export function buildSchedule(weights: readonly number[]): Uint32Array {
  const n = weights.length;
  if (n === 0) return new Uint32Array(0);
  // Registries outside graylane may hand out fractional weights: keep 3 decimals, as integers.
  const integral = weights.every(Number.isInteger)
    ? weights
    : weights.map((w) => Math.max(1, Math.round(w * 1000)));
  let g = 0;
  for (const w of integral) g = gcd(w, g);
  const reduced = integral.map((w) => w / g);
  let total = reduced.reduce((a, b) => a + b, 0);
  const cap = Math.max(MIN_SCHEDULE_CAP, 4 * n);
  if (total > cap) {
    const scale = cap / total;
    for (let i = 0; i < n; i++) reduced[i] = Math.max(1, Math.round(reduced[i]! * scale));
    let g2 = 0;
    for (const w of reduced) g2 = gcd(w, g2);
    for (let i = 0; i < n; i++) reduced[i] = reduced[i]! / g2;
    total = reduced.reduce((a, b) => a + b, 0);
  }
  return n * total <= NAIVE_BUDGET ? nginx(reduced, total) : byMidpoint(reduced, total);
}

function nginx(weights: readonly number[], total: number): Uint32Array {
  const n = weights.length;
  const current = new Float64Array(n);
  const out = new Uint32Array(total);
  for (let t = 0; t < total; t++) {
    let best = 0;
    for (let i = 0; i < n; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    out[t] = best;
  }
  return out;
}

// Binary min-heap of instances keyed by (2k + 1) / w (k = slots taken so far), ties by index.
function byMidpoint(weights: readonly number[], total: number): Uint32Array {
  const n = weights.length;
  const taken = new Float64Array(n);
  const heap = new Uint32Array(n);
  for (let i = 0; i < n; i++) heap[i] = i;
  const before = (a: number, b: number): boolean => {
    // (2ka + 1) / wa < (2kb + 1) / wb, cross-multiplied (exact for our integer ranges)
    const left = (2 * taken[a]! + 1) * weights[b]!;
    const right = (2 * taken[b]! + 1) * weights[a]!;
    return left < right || (left === right && a < b);
  };
  const down = (at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      if (l >= n) return;
      const r = l + 1;
      const child = r < n && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[child]!, heap[at]!)) return;
      const t = heap[at]!;
      heap[at] = heap[child]!;
      heap[child] = t;
      at = child;
    }
  };
  for (let i = (n >> 1) - 1; i >= 0; i--) down(i);
  const out = new Uint32Array(total);
  for (let t = 0; t < total; t++) {
    const top = heap[0]!;
    out[t] = top;
    taken[top]!++;
    down(0);
  }
  return out;
}
