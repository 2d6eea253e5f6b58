import { InvalidLaneError } from './errors';
import { laneStorage } from './internal/global';
import { type Lane, parseLane } from './lane';

/**
 * What a request carries through async context. Immutable: entering a new lane makes a new one.
 * `carry` holds extra request headers (lowercase name, value) propagated like the lane.
 */
export interface LaneContext {
  readonly lane: Lane | undefined;
  readonly carry: ReadonlyArray<readonly [name: string, value: string]> | undefined;
}

const storage = laneStorage();

/** The base lane with nothing carried. Shared, never mutated. */
export const BASE_CONTEXT: LaneContext = Object.freeze({ lane: undefined, carry: undefined });

/**
 * Runs `fn` in `lane` (or in the base lane when `lane` is `undefined`) and returns its result.
 * Everything `fn` starts — awaits, timers, emitters, streams — sees the lane.
 * Carried headers of the enclosing context are kept.
 *
 * @throws {InvalidLaneError} `GL_ERR_INVALID_LANE` when `lane` is not a valid lane tag.
 * @example
 * await withLane('gray', async () => {
 *   await fetch('http://svc-b/'); // sent with x-mse-tag: gray once propagation is enabled
 * });
 */
export function withLane<R>(lane: Lane | undefined, fn: () => R): R {
  if (lane !== undefined && parseLane(lane) === undefined) throw new InvalidLaneError(lane);
  const parent = storage.getStore();
  const carry = parent === undefined ? undefined : parent.carry;
  const context: LaneContext = lane === undefined && carry === undefined ? BASE_CONTEXT : { lane, carry };
  return storage.run(context, fn);
}

/**
 * Runs `fn` in a complete lane context (lane plus carried headers). Used by ingress adapters
 * (Express, gRPC) that read both from a request. The lane is NOT re-validated: build contexts
 * through {@link createLaneContext}.
 */
export function withLaneContext<R>(context: LaneContext, fn: () => R): R {
  return storage.run(context, fn);
}

/**
 * Builds a lane context; `undefined` lane and no carry give the shared {@link BASE_CONTEXT}.
 *
 * @throws {InvalidLaneError} `GL_ERR_INVALID_LANE` when `lane` is not a valid lane tag.
 */
export function createLaneContext(
  lane: Lane | undefined,
  carry?: ReadonlyArray<readonly [string, string]>,
): LaneContext {
  if (lane !== undefined && parseLane(lane) === undefined) throw new InvalidLaneError(lane);
  if (lane === undefined && (carry === undefined || carry.length === 0)) return BASE_CONTEXT;
  return Object.freeze({ lane, carry: carry === undefined || carry.length === 0 ? undefined : carry });
}

/**
 * The lane of the current async context, or `undefined` in the base lane. Never throws.
 *
 * @example
 * withLane('gray', () => currentLane()); // 'gray'
 * currentLane();                         // undefined
 */
export function currentLane(): Lane | undefined {
  const context = storage.getStore();
  return context === undefined ? undefined : context.lane;
}

/** The current lane context (lane and carried headers), or {@link BASE_CONTEXT}. Never throws. */
export function currentLaneContext(): LaneContext {
  return storage.getStore() ?? BASE_CONTEXT;
}
