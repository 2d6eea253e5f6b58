import type { LaneContext } from './context';
import { InvalidOptionError } from './errors';
import { addEnterHook, type EnterHook, removeEnterHook, runEnterChain } from './internal/enter-hooks';
import { assertKnownOptions } from './options';

/**
 * The part of a cls-hooked `Namespace` the mirror uses (`createNamespace()` from `cls-hooked`
 * returns one). Structural, so core needs neither `cls-hooked` nor its types.
 */
export interface ClsNamespaceLike {
  createContext(): object;
  enter(context: object): void;
  exit(context: object): void;
  get(key: string): unknown;
}

/** Options of {@link mirrorLaneToClsNamespace}. */
export interface ClsMirrorOptions {
  /** The namespace key the lane is written under. Default `lane`. */
  readonly key?: string | undefined;
}

const CLS_MIRROR_OPTION_KEYS: readonly string[] = Object.keys({ key: 1 } satisfies Record<
  keyof ClsMirrorOptions,
  1
>);

/** Handle returned by {@link mirrorLaneToClsNamespace}. */
export interface ClsMirror {
  /** Stops mirroring; lane contexts entered afterwards no longer touch the namespace. Idempotent. */
  disable(): void;
}

/** Default namespace key of the mirrored lane. */
export const CLS_LANE_KEY = 'lane';

/** Enters a cls-hooked context holding the lane around the rest of the enter chain. */
class ClsMirrorHook implements EnterHook {
  readonly #namespace: ClsNamespaceLike;
  readonly #key: string;

  constructor(namespace: ClsNamespaceLike, key: string) {
    this.#namespace = namespace;
    this.#key = key;
  }

  enter<R>(context: LaneContext, fn: () => R, chain: readonly EnterHook[], next: number): R {
    const namespace = this.#namespace;
    const lane = context.lane;
    // Already visible (nested entry of the same lane, or the base lane with no lane mirrored).
    if (namespace.get(this.#key) === lane) return runEnterChain(chain, next, context, fn);
    // A child of the active cls context: what the app keeps there (a transaction) stays visible.
    const clsContext = namespace.createContext() as Record<string, unknown>;
    clsContext[this.#key] = lane;
    namespace.enter(clsContext);
    try {
      return runEnterChain(chain, next, context, fn);
    } finally {
      namespace.exit(clsContext);
    }
  }
}

/**
 * Mirrors the lane into an existing cls-hooked namespace, for apps that already keep one
 * (Sequelize transactions and the like) and read request state from it. `AsyncLocalStorage` stays
 * graylane's store: while mirroring, every lane entry (`withLane`, `withLaneContext`, graylane
 * middleware) also enters a child context of `namespace` in which `namespace.get(key)` is the lane
 * (`undefined` in the base lane), for the callback and everything it starts. Outside, the
 * namespace is untouched. `cls-hooked` is an optional peer dependency: pass the namespace you
 * created with it.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` when `namespace` is not a cls-hooked
 * namespace or `key` is empty.
 * @example
 * import { createNamespace } from 'cls-hooked';
 * const ns = createNamespace('app');
 * const mirror = mirrorLaneToClsNamespace(ns); // key 'lane'
 * app.use(laneMiddleware());
 * app.get('/', async (req, res) => { await db.query(); res.send(ns.get('lane')); });
 * mirror.disable();
 */
export function mirrorLaneToClsNamespace(
  namespace: ClsNamespaceLike,
  options: ClsMirrorOptions = {},
): ClsMirror {
  if (
    typeof namespace !== 'object' ||
    namespace === null ||
    typeof namespace.createContext !== 'function' ||
    typeof namespace.enter !== 'function' ||
    typeof namespace.exit !== 'function' ||
    typeof namespace.get !== 'function'
  ) {
    throw new InvalidOptionError('namespace', 'must be a cls-hooked namespace (createNamespace())');
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object');
  }
  assertKnownOptions('mirrorLaneToClsNamespace()', options, CLS_MIRROR_OPTION_KEYS);
  const key = options.key ?? CLS_LANE_KEY;
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidOptionError('key', 'must be a non-empty string');
  }
  const hook = new ClsMirrorHook(namespace, key);
  addEnterHook(hook);
  return new ClsMirrorHandle(hook);
}

class ClsMirrorHandle implements ClsMirror {
  #hook: ClsMirrorHook | undefined;

  constructor(hook: ClsMirrorHook) {
    this.#hook = hook;
  }

  disable(): void {
    const hook = this.#hook;
    if (hook === undefined) return;
    this.#hook = undefined;
    removeEnterHook(hook);
  }
}
