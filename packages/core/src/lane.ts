import { MAX_LANE_LENGTH } from './constants';

/**
 * A lane tag: a Kubernetes label value, 1..63 characters,
 * `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
 * The base (stable) lane is "no lane" and is represented by `undefined`.
 */
export type Lane = string;

// Bounded quantifier: the length check below runs first, so this never sees long input.
const LANE_PATTERN = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * Returns the lane if `value` is a valid lane tag, else `undefined`. Never throws.
 *
 * @example
 * parseLane('gray');        // 'gray'
 * parseLane('-gray');       // undefined
 * parseLane(undefined);     // undefined
 */
export function parseLane(value: unknown): Lane | undefined {
  if (typeof value !== 'string') return undefined;
  // Traffic comes in runs of one lane: comparing with the last valid lane costs a few instructions
  // where the pattern costs hundreds (each request's header is a new string, so V8 caches nothing).
  if (value === lastValid) return value;
  const length = value.length;
  if (length === 0 || length > MAX_LANE_LENGTH || !LANE_PATTERN.test(value)) return undefined;
  lastValid = value;
  return value;
}

// The last value that passed the pattern (only ever a valid lane).
let lastValid: string | undefined;

/**
 * True when `value` is a valid lane tag.
 *
 * @example
 * isLane('feature-x'); // true
 */
export function isLane(value: unknown): value is Lane {
  return parseLane(value) !== undefined;
}
