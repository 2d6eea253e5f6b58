import { InvalidOptionError } from '@graylane/core';

/**
 * The shared position of a release plan, as stored. Every replica derives its rules from it, so
 * replicas that read the same state route the same way.
 */
export interface PlanState {
  /** `Progressing` (walking the steps), `Completed` (lane at 100%), `Aborted` (lane at 0%). */
  readonly phase: 'Progressing' | 'Completed' | 'Aborted';
  /** Index of the current step (`steps.length` once completed). */
  readonly step: number;
  /** When the current step began (epoch ms): timed pauses count from here. */
  readonly stepStartedAt: number;
  /** Paused by `pause()` (distinct from a `pause` step): steps do not advance until `resume()` or `promote()`. */
  readonly paused: boolean;
  readonly abortReason: string | null;
  readonly updatedAt: number;
  /** The replica that wrote it (`releasePlan({ replica })`). */
  readonly updatedBy: string;
  /**
   * A digest of the steps of the plan that wrote it. A replica whose steps differ (a rolling deploy
   * that changed the plan) does not walk nor apply a `Progressing` state until `retry()` or
   * `promote()` on it rewrites the state (`Completed` and `Aborted` are applied: they mean the same
   * whatever the steps).
   */
  readonly stepsDigest?: string;
}

/** A stored state with the store's revision of it (compare-and-set token). */
export interface StoredPlan {
  readonly state: PlanState;
  readonly revision: string;
}

/**
 * Where a release plan's position lives. `memoryPlanStore()` for one process; `etcdPlanStore()`
 * (`@graylane/rules/etcd`) so that several edge replicas walk one plan together.
 *
 * @experimental The interface may change in a minor version.
 * @example
 * const store: PlanStore = memoryPlanStore();
 */
export interface PlanStore {
  /** Shown in diagnostics: `memory`, `etcd:/graylane/plans`. */
  readonly name: string;
  /** The stored state, or `undefined` when the plan was never written. */
  read(plan: string): Promise<StoredPlan | undefined>;
  /**
   * Writes `state` if the stored revision is still `expected` (`null`: only if absent). Resolves
   * with the new revision, or `null` when someone else wrote first.
   */
  compareAndSet(plan: string, state: PlanState, expected: string | null): Promise<string | null>;
  /** Calls `listener` on every change (asynchronously); returns the unsubscribe function. */
  watch(plan: string, listener: (stored: StoredPlan | undefined) => void): () => void;
  close(): Promise<void>;
}

/**
 * A {@link PlanStore} in this process's memory: replicas in ONE process (or tests) share it. Use
 * `etcdPlanStore()` across processes.
 *
 * @example
 * const store = memoryPlanStore();
 * const plan = releasePlan({ name: 'checkout', lane: 'gray', steps, store });
 */
export function memoryPlanStore(): PlanStore {
  const plans = new Map<string, StoredPlan>();
  const listeners = new Map<string, Set<(stored: StoredPlan | undefined) => void>>();
  let revision = 0;
  return {
    name: 'memory',
    async read(plan) {
      return plans.get(plan);
    },
    async compareAndSet(plan, state, expected) {
      const now = plans.get(plan);
      if ((now?.revision ?? null) !== expected) return null;
      const stored = { state, revision: String(++revision) };
      plans.set(plan, stored);
      for (const listener of listeners.get(plan) ?? []) setImmediate(listener, stored);
      return stored.revision;
    },
    watch(plan, listener) {
      if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'expected a function');
      let set = listeners.get(plan);
      if (set === undefined) {
        set = new Set();
        listeners.set(plan, set);
      }
      set.add(listener);
      return () => set.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };
}

/** @internal Parses a stored state (from JSON); `undefined` when it is not one. */
export function parsePlanState(value: unknown): PlanState | undefined {
  const v = value as Partial<PlanState> | null;
  if (typeof v !== 'object' || v === null) return undefined;
  if (v.phase !== 'Progressing' && v.phase !== 'Completed' && v.phase !== 'Aborted') return undefined;
  if (typeof v.step !== 'number' || typeof v.stepStartedAt !== 'number' || typeof v.paused !== 'boolean')
    return undefined;
  return {
    phase: v.phase,
    step: v.step,
    stepStartedAt: v.stepStartedAt,
    paused: v.paused,
    abortReason: typeof v.abortReason === 'string' ? v.abortReason : null,
    updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : 0,
    updatedBy: typeof v.updatedBy === 'string' ? v.updatedBy : '',
    ...(typeof v.stepsDigest === 'string' ? { stepsDigest: v.stepsDigest } : {}),
  };
}
