import { AsyncLocalStorage } from 'node:async_hooks';
import type { LaneContext } from '../context';

// Bump the major when the shape of what is stored changes incompatibly.
const GLOBAL_VERSION = 1;
const GLOBAL_KEY = Symbol.for(`graylane.global.v${GLOBAL_VERSION}`);

interface GraylaneGlobal {
  readonly version: number;
  readonly storage: AsyncLocalStorage<LaneContext>;
}

type GlobalHolder = { [GLOBAL_KEY]?: GraylaneGlobal };

/**
 * The one AsyncLocalStorage of the process. Two installed copies of @graylane/core of the same
 * major share it through a versioned `Symbol.for` key, so a lane set by one is read by the other.
 */
export function laneStorage(): AsyncLocalStorage<LaneContext> {
  const holder = globalThis as GlobalHolder;
  let g = holder[GLOBAL_KEY];
  if (g === undefined) {
    g = { version: GLOBAL_VERSION, storage: new AsyncLocalStorage<LaneContext>() };
    Object.defineProperty(holder, GLOBAL_KEY, {
      value: g,
      enumerable: false,
      configurable: false,
      writable: false,
    });
  }
  return g.storage;
}
