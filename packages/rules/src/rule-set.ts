import type { CompiledRules } from './compile-rules';

/**
 * One version of a live rule set: immutable. A request is decided entirely by the set it read
 * once (`provider.current`), so a reload never splits a request between two versions.
 */
export interface RuleSet {
  /** 1, 2, 3... per provider, bumped by every accepted set. Tag responses or logs with it. */
  readonly version: number;
  readonly rules: CompiledRules;
  /** Where it came from: `static`, `file:/etc/rules.yaml`, `etcd:/graylane/rules/edge`, `plan:checkout`. */
  readonly source: string;
  /** The source's own revision (etcd mod revision, Kubernetes resourceVersion, file stamp), if any. */
  readonly revision: string | undefined;
  /** When it came into force (epoch ms). */
  readonly loadedAt: number;
}

/**
 * Anything that holds the rule set in force and may replace it: `liveRules()` and
 * `releasePlan()` results. `laneEdge()` reads `current` once per request.
 *
 * @example
 * const provider: RuleSetProvider = liveRules({ source: fileRuleSource({ path: 'rules.yaml' }) });
 * provider.current.rules.decide(req);
 */
export interface RuleSetProvider {
  /** The set in force. Reading it is one property load: no allocation, no I/O. */
  readonly current: RuleSet;
  /**
   * Adds a check every future set must pass (and runs it on the current one): a throwing check
   * rejects the set like a validation error. `laneEdge()` adds its lane-header check here.
   */
  addCheck(check: (rules: CompiledRules) => void): void;
  /**
   * Optional: the outcome of a request the edge decided with this provider's rules, for
   * analysis (`releasePlan()` implements it). `lane` is the decided lane (undefined: base).
   */
  observe?(lane: string | undefined, status: number, durationMs: number): void;
}

/** True for a {@link RuleSetProvider}-shaped value. */
export function isRuleSetProvider(value: unknown): value is RuleSetProvider {
  const candidate = value as { current?: { rules?: { decide?: unknown } }; addCheck?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.addCheck === 'function' &&
    typeof candidate.current?.rules?.decide === 'function'
  );
}
