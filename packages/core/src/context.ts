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

/**
 * Runs `fn` with `context` as the current lane context. The slot is `null` unless an integration
 * (the OpenTelemetry bridge, a cls-hooked mirror) is enabled.
 * @internal
 */
export type EnterRunner = <R>(context: LaneContext, fn: () => R) => R;

/**
 * The lane context to report when no graylane context is active (e.g. a lane read from the
 * active OpenTelemetry baggage), or `undefined`.
 * @internal
 */
export type ContextFallback = () => LaneContext | undefined;

const storage = laneStorage();

// Hook slots: `null` when no integration is enabled, so the plain path is one null check.
let enterRunner: EnterRunner | null = null;
let contextFallback: ContextFallback | null = null;
// The instance lane's context while `enableInstanceLane()` is on, else `null`: what work outside
// any lane context (startup, timers set at startup, jobs) runs in. Read only when no store is set.
let outsideContext: LaneContext | null = null;

/** The base lane with nothing carried. Shared, never mutated. */
export const BASE_CONTEXT: LaneContext = Object.freeze({ lane: undefined, carry: undefined });

// Contexts without carried headers are shared per lane, so entering a lane allocates nothing.
const MAX_SHARED_CONTEXTS = 256;
const sharedContexts = new Map<Lane, LaneContext>();

/**
 * The shared, frozen context of `lane` with nothing carried. `lane` must already be valid.
 * @internal
 */
export function laneContextFor(lane: Lane | undefined): LaneContext {
  if (lane === undefined) return BASE_CONTEXT;
  let context = sharedContexts.get(lane);
  if (context === undefined) {
    context = Object.freeze({ lane, carry: undefined });
    if (sharedContexts.size < MAX_SHARED_CONTEXTS) sharedContexts.set(lane, context);
  }
  return context;
}

/**
 * Installs (or with `null` removes) the function that enters a lane context.
 * @internal Used by `internal/enter-hooks.ts` only.
 */
export function setEnterRunner(runner: EnterRunner | null): void {
  enterRunner = runner;
}

/**
 * Installs (or with `null` removes) the fallback read by {@link currentLane} outside any lane context.
 * @internal Used by the OpenTelemetry bridge only.
 */
export function setContextFallback(fallback: ContextFallback | null): void {
  contextFallback = fallback;
}

/**
 * Installs (or with `null` removes) the context reported outside any lane context.
 * @internal Used by `instance-lane.ts` only.
 */
export function setOutsideContext(context: LaneContext | null): void {
  outsideContext = context;
}

/**
 * Runs `fn` in `lane` (or in the base lane when `lane` is `undefined` or `null`) and returns its
 * result. `withLane(null, fn)` forces the base lane, also where the instance lane would apply
 * (see `enableInstanceLane`).
 * Everything `fn` starts — awaits, timers, emitters, streams — sees the lane.
 * Carried headers of the enclosing context are kept.
 *
 * @throws {InvalidLaneError} `GL_ERR_INVALID_LANE` when `lane` is not a valid lane tag.
 * @example
 * await withLane('gray', async () => {
 *   await fetch('http://svc-b/'); // sent with x-mse-tag: gray once propagation is enabled
 * });
 */
export function withLane<R>(lane: Lane | null | undefined, fn: () => R): R {
  const own = lane === null ? undefined : lane;
  if (own !== undefined && parseLane(own) === undefined) throw new InvalidLaneError(own);
  const parent = storage.getStore();
  const carry = parent === undefined ? undefined : parent.carry;
  const context: LaneContext =
    carry === undefined ? laneContextFor(own) : Object.freeze({ lane: own, carry });
  if (enterRunner !== null) return enterRunner(context, fn);
  // Already in exactly this context (shared per lane): entering it again would change nothing but
  // cost a new async-context frame. Consumer loops that run in their lane rely on this to handle
  // each message of that lane without one.
  if (context === parent) return fn();
  return storage.run(context, fn);
}

/**
 * Runs `fn` in a complete lane context (lane plus carried headers). Used by ingress adapters
 * (Express, gRPC) that read both from a request. The lane is NOT re-validated: build contexts
 * through {@link createLaneContext}.
 *
 * @example
 * const context = createLaneContext(extractLane(req.headers, RECORD_GETTER, compiled));
 * withLaneContext(context, next);
 */
export function withLaneContext<R>(context: LaneContext, fn: () => R): R {
  if (enterRunner !== null) return enterRunner(context, fn);
  return storage.run(context, fn);
}

/**
 * Builds a lane context; `undefined` lane and no carry give the shared {@link BASE_CONTEXT}.
 * Contexts without carried headers are shared per lane (no allocation).
 *
 * @throws {InvalidLaneError} `GL_ERR_INVALID_LANE` when `lane` is not a valid lane tag.
 * @example
 * createLaneContext('gray', [['x-user-id', '42']]); // { lane: 'gray', carry: [['x-user-id', '42']] }
 */
export function createLaneContext(
  lane: Lane | undefined,
  carry?: ReadonlyArray<readonly [string, string]>,
): LaneContext {
  if (lane !== undefined && parseLane(lane) === undefined) throw new InvalidLaneError(lane);
  if (carry === undefined || carry.length === 0) return laneContextFor(lane);
  return Object.freeze({ lane, carry });
}

/**
 * The lane of the current async context, or `undefined` in the base lane. Never throws.
 * Outside any graylane context, and only while the OpenTelemetry bridge is enabled, the lane
 * entry of the active OpenTelemetry baggage is reported (see `enableOpenTelemetryBridge`); else,
 * while `enableInstanceLane()` is on, the instance lane.
 *
 * @example
 * withLane('gray', () => currentLane()); // 'gray'
 * currentLane();                         // undefined
 */
export function currentLane(): Lane | undefined {
  const context = storage.getStore();
  if (context !== undefined) return context.lane;
  if (contextFallback !== null) {
    const fallback = contextFallback();
    if (fallback !== undefined) return fallback.lane;
  }
  return outsideContext === null ? undefined : outsideContext.lane;
}

/**
 * The current lane context (lane and carried headers), or {@link BASE_CONTEXT}. Never throws.
 * Falls back like {@link currentLane} outside any graylane context.
 *
 * @example
 * withLane('gray', () => currentLaneContext().lane); // 'gray'
 */
export function currentLaneContext(): LaneContext {
  const context = storage.getStore();
  if (context !== undefined) return context;
  if (contextFallback !== null) {
    const fallback = contextFallback();
    if (fallback !== undefined) return fallback;
  }
  return outsideContext ?? BASE_CONTEXT;
}
