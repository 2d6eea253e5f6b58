import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';

/**
 * Default `warmup.minWeightPercent`: the share of its weight a warming instance starts with.
 *
 * @example
 * createDiscovery({ registry, warmup: { durationMs: 30_000, minWeightPercent: DEFAULT_WARMUP_MIN_WEIGHT_PERCENT / 2 } });
 */
export const DEFAULT_WARMUP_MIN_WEIGHT_PERCENT = 10;
/**
 * Default `warmup.curve`: the ramp's exponent (1 = linear).
 *
 * @example
 * createDiscovery({ registry, warmup: { durationMs: 30_000, curve: DEFAULT_WARMUP_CURVE * 2 } }); // slower start
 */
export const DEFAULT_WARMUP_CURVE = 1;
/** Largest accepted `warmup.curve` (and the smallest is its inverse). */
export const MAX_WARMUP_CURVE = 10;

/**
 * Warm-up ("slow start", option `warmup` of `createDiscovery`): an instance that becomes pickable
 * while discovery is running — it appears in the registry, turns healthy, or its weight turns
 * from 0 to positive — gets a share of its lane bucket's traffic that ramps up over
 * `durationMs`, instead of its full share at once (cold caches, JIT, pools not yet open).
 * Off by default.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `durationMs` | required | length of the ramp |
 * | `minWeightPercent` | 10 | the share of its weight an instance starts with (1..100) |
 * | `curve` | 1 (linear) | weight = max(min, (elapsed / durationMs) ^ curve) of the instance's weight; 2 starts slower, 0.5 faster |
 * | `afterEjection` | `false` | also ramp an instance returning from outlier ejection |
 *
 * The clock starts when this discovery sees the instance become pickable, so it works with every
 * registry. Instances in a service's first instance set are not warmed: they were running before
 * this process looked. Weights are recomputed about 20 times over the window (every
 * `durationMs / 20`, at least 100 ms and at most 5 s apart), by rebuilding the buckets as a
 * registry update does: a pick never looks at warm-up.
 *
 * @example
 * createDiscovery({ registry, warmup: { durationMs: 60_000 } });
 */
export interface WarmupOptions {
  readonly durationMs: number;
  readonly minWeightPercent?: number | undefined;
  readonly curve?: number | undefined;
  readonly afterEjection?: boolean | undefined;
}

/** @internal Validated warm-up options; `null` when off. */
export interface WarmupConfig {
  readonly durationMs: number;
  readonly minWeightPercent: number;
  readonly curve: number;
  readonly afterEjection: boolean;
  /** How often the weights of warming instances are recomputed. */
  readonly stepMs: number;
}

/** Weights are recomputed this many times over a window (within the bounds below). */
const WARMUP_STEPS = 20;
const MIN_WARMUP_STEP_MS = 100;
const MAX_WARMUP_STEP_MS = 5_000;

const WARMUP_OPTION_KEYS: readonly string[] = Object.keys({
  durationMs: 1,
  minWeightPercent: 1,
  curve: 1,
  afterEjection: 1,
} satisfies Record<keyof WarmupOptions, 1>);

/** @internal */
export function warmupConfig(options: WarmupOptions | false | undefined): WarmupConfig | null {
  if (options === false || options === undefined) return null;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('warmup', 'expected false or { durationMs, ... }');
  }
  assertKnownOptions('createDiscovery()', options, WARMUP_OPTION_KEYS, 'warmup');
  if (options.durationMs === undefined) {
    throw new InvalidOptionError('warmup.durationMs', 'required: the length of the ramp in ms');
  }
  const durationMs = positiveOption(options.durationMs, 'warmup.durationMs', 0);
  const minWeightPercent = positiveOption(
    options.minWeightPercent,
    'warmup.minWeightPercent',
    DEFAULT_WARMUP_MIN_WEIGHT_PERCENT,
  );
  if (minWeightPercent > 100) throw new InvalidOptionError('warmup.minWeightPercent', 'expected 1..100');
  if (minWeightPercent < 1) throw new InvalidOptionError('warmup.minWeightPercent', 'expected 1..100');
  const curve = positiveOption(options.curve, 'warmup.curve', DEFAULT_WARMUP_CURVE);
  if (curve > MAX_WARMUP_CURVE || curve < 1 / MAX_WARMUP_CURVE) {
    throw new InvalidOptionError(
      'warmup.curve',
      `expected ${1 / MAX_WARMUP_CURVE}..${MAX_WARMUP_CURVE} (1 = linear)`,
    );
  }
  const afterEjection = options.afterEjection ?? false;
  if (typeof afterEjection !== 'boolean') {
    throw new InvalidOptionError('warmup.afterEjection', 'expected a boolean');
  }
  const stepMs = Math.min(Math.max(durationMs / WARMUP_STEPS, MIN_WARMUP_STEP_MS), MAX_WARMUP_STEP_MS);
  return { durationMs, minWeightPercent, curve, afterEjection, stepMs };
}

/**
 * @internal The percent (1..100) of its weight an instance `elapsedMs` into its warm-up gets:
 * 100 once the window is over.
 */
export function warmupPercent(config: WarmupConfig, elapsedMs: number): number {
  if (elapsedMs >= config.durationMs) return 100;
  const ramp = 100 * (Math.max(elapsedMs, 0) / config.durationMs) ** config.curve;
  return Math.min(100, Math.max(Math.round(ramp), Math.ceil(config.minWeightPercent), 1));
}
