// Vose's alias method: a weighted random choice in O(1), over a packed per-instance table.
// Random bits come from an xorshift32 generator kept in a typed array: Math.random() returns a
// boxed number (a heap allocation per call in V8), which would make every pick allocate. Not for
// anything security-related.

/**
 * Per-instance record layout of a bucket's table (a Float64Array, STRIDE numbers per instance):
 * the alias threshold (probability x 2^32), the alias index, the weight and the outstanding
 * requests. Packing them puts everything a random or p2c draw reads for one instance in one or
 * two cache lines.
 */
export const STRIDE = 4;
export const THRESHOLD = 0;
export const ALIAS = 1;
export const WEIGHT = 2;
export const OUTSTANDING = 3;

const TWO_32 = 4294967296;
const state = new Int32Array(1);
state[0] = Math.floor(Math.random() * 0x7fffffff) | 1; // xorshift state must never be 0

/** The packed table for `weights` (all > 0): alias columns, weights, outstanding = 0. O(n). */
export function buildTable(weights: readonly number[], withAlias: boolean): Float64Array {
  const n = weights.length;
  const table = new Float64Array(n * STRIDE);
  for (let i = 0; i < n; i++) table[i * STRIDE + WEIGHT] = weights[i]!;
  if (!withAlias || n === 0) return table;
  const total = weights.reduce((a, b) => a + b, 0);
  const scaled = weights.map((w) => (w * n) / total);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) (scaled[i]! < 1 ? small : large).push(i);
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large.pop()!;
    table[s * STRIDE + THRESHOLD] = scaled[s]! * TWO_32;
    table[s * STRIDE + ALIAS] = l;
    scaled[l] = scaled[l]! + scaled[s]! - 1;
    (scaled[l]! < 1 ? small : large).push(l);
  }
  // What is left has probability 1 (up to rounding): always itself.
  for (const i of [...large, ...small]) {
    table[i * STRIDE + THRESHOLD] = TWO_32;
    table[i * STRIDE + ALIAS] = i;
  }
  return table;
}

/**
 * One weighted draw among `n` (<= 2^21) entries of a table built with `withAlias`: an index into
 * the weights. Two xorshift32 steps: one picks the column, one flips its biased coin.
 * Allocation-free.
 */
export function drawAlias(table: Float64Array, n: number): number {
  let x = state[0]!;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  const i = (((x >>> 0) * n) / TWO_32) | 0;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state[0] = x;
  const at = i * STRIDE;
  return x >>> 0 < table[at + THRESHOLD]! ? i : table[at + ALIAS]! | 0;
}
