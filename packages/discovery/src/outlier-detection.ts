import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import type { OutlierReason } from './diagnostics';

/**
 * How a call to an instance ended, as an integration reports it (`discovery.reportOutcome`).
 *
 * @example
 * const outcome: CallOutcome = status >= 500 ? 'server-error' : 'success';
 */
export type CallOutcome = 'success' | OutlierReason;

/** Default `outlier.consecutiveFailures`: connect failures / timeouts in a row that eject an instance. */
export const DEFAULT_CONSECUTIVE_FAILURES = 3;
/** Default `outlier.baseEjectionMs`: the first ejection's length; the n-th lasts n times as long. */
export const DEFAULT_BASE_EJECTION_MS = 30_000;
/** Default `outlier.maxEjectionMs`: no ejection lasts longer. */
export const DEFAULT_MAX_EJECTION_MS = 300_000;
/** Default `outlier.maxEjectionPercent`: the share of a lane's instances that may be out at once. */
export const DEFAULT_MAX_EJECTION_PERCENT = 100;

/**
 * Passive outlier ejection (option `outlier` of `createDiscovery`). The integrations
 * (`laneDispatcher`, `laneAxiosDiscovery`, the gRPC lane channel) report each call's outcome;
 * an instance with too many failures in a row leaves its lane's bucket for a while.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `consecutiveFailures` | 3 | connect failures (refused, reset before any response, connect timeout) and response timeouts in a row that eject |
 * | `consecutive5xx` | `0` (off) | 5xx responses / gRPC `UNAVAILABLE` in a row that eject |
 * | `baseEjectionMs` | 30,000 | the first ejection; the n-th in a row lasts n × this |
 * | `maxEjectionMs` | 300,000 | cap on one ejection |
 * | `maxEjectionPercent` | 100 | most of a lane's instances out at once (one may always be ejected) |
 *
 * After its ejection an instance returns on probation: its next failure ejects it again at
 * once (for longer); its next success ends the probation. An instance that stays out of
 * trouble for `maxEjectionMs` after returning starts over at the base time.
 *
 * @example
 * createDiscovery({ registry, outlier: { consecutive5xx: 5, baseEjectionMs: 10_000 } });
 */
export interface OutlierOptions {
  readonly consecutiveFailures?: number | undefined;
  readonly consecutive5xx?: number | undefined;
  readonly baseEjectionMs?: number | undefined;
  readonly maxEjectionMs?: number | undefined;
  readonly maxEjectionPercent?: number | undefined;
}

/** @internal Validated outlier options; `null` when off. */
export interface OutlierConfig {
  readonly consecutiveFailures: number;
  /** 0 = off. */
  readonly consecutive5xx: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

/** @internal */
export function outlierConfig(options: OutlierOptions | false | undefined): OutlierConfig | null {
  if (options === false) return null;
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('outlier', 'expected false or { consecutiveFailures, ... }');
  }
  assertKnownOptions('createDiscovery()', options, OUTLIER_OPTION_KEYS, 'outlier');
  const consecutive5xx = options.consecutive5xx ?? 0;
  if (consecutive5xx !== 0) positiveOption(consecutive5xx, 'outlier.consecutive5xx', 0, true);
  const baseEjectionMs = positiveOption(
    options.baseEjectionMs,
    'outlier.baseEjectionMs',
    DEFAULT_BASE_EJECTION_MS,
  );
  const maxEjectionMs = positiveOption(
    options.maxEjectionMs,
    'outlier.maxEjectionMs',
    Math.max(DEFAULT_MAX_EJECTION_MS, baseEjectionMs),
  );
  if (maxEjectionMs < baseEjectionMs) {
    throw new InvalidOptionError('outlier.maxEjectionMs', 'must be >= baseEjectionMs');
  }
  const maxEjectionPercent = positiveOption(
    options.maxEjectionPercent,
    'outlier.maxEjectionPercent',
    DEFAULT_MAX_EJECTION_PERCENT,
  );
  if (maxEjectionPercent > 100) throw new InvalidOptionError('outlier.maxEjectionPercent', 'expected 1..100');
  return {
    consecutiveFailures: positiveOption(
      options.consecutiveFailures,
      'outlier.consecutiveFailures',
      DEFAULT_CONSECUTIVE_FAILURES,
      true,
    ),
    consecutive5xx,
    baseEjectionMs,
    maxEjectionMs,
    maxEjectionPercent,
  };
}

const OUTLIER_OPTION_KEYS: readonly string[] = Object.keys({
  consecutiveFailures: 1,
  consecutive5xx: 1,
  baseEjectionMs: 1,
  maxEjectionMs: 1,
  maxEjectionPercent: 1,
} satisfies Record<keyof OutlierOptions, 1>);
