import { type LaneContext, setEnterRunner } from '../context';
import { laneStorage } from './global';

/**
 * An integration that wraps entering a lane context (OpenTelemetry bridge, cls-hooked mirror).
 * `enter` must call `runEnterChain(chain, next, context, fn)` exactly once, inside whatever
 * context it sets up, and return its result.
 */
export interface EnterHook {
  enter<R>(context: LaneContext, fn: () => R, chain: readonly EnterHook[], next: number): R;
}

const storage = laneStorage();
const EMPTY_CHAIN: readonly EnterHook[] = Object.freeze([]);

// Replaced (never mutated) on change, so a chain already running keeps its own snapshot.
let installed: readonly EnterHook[] = EMPTY_CHAIN;

/** Runs hook `index` of `chain`, or — past the last hook — enters the lane context itself. */
export function runEnterChain<R>(
  chain: readonly EnterHook[],
  index: number,
  context: LaneContext,
  fn: () => R,
): R {
  if (index === chain.length) return storage.run(context, fn);
  return chain[index]!.enter(context, fn, chain, index + 1);
}

function enterThroughHooks<R>(context: LaneContext, fn: () => R): R {
  return runEnterChain(installed, 0, context, fn);
}

/** Adds `hook` to the chain run on every lane entry. */
export function addEnterHook(hook: EnterHook): void {
  installed = Object.freeze([...installed, hook]);
  setEnterRunner(enterThroughHooks);
}

/** Removes `hook`; with no hook left, entering a lane is a bare `AsyncLocalStorage.run` again. */
export function removeEnterHook(hook: EnterHook): void {
  const next = installed.filter((h) => h !== hook);
  installed = next.length === 0 ? EMPTY_CHAIN : Object.freeze(next);
  setEnterRunner(installed.length === 0 ? null : enterThroughHooks);
}
