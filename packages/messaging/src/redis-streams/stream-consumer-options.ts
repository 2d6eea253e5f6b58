import { assertKnownOptions, InvalidOptionError, type Lane } from '@graylane/core';
import {
  type CompiledLaneConsumerOptions,
  checkOptionsObject,
  compileLaneConsumerOptions,
  integerOption,
} from '../internal/consumer-setup';
import type { LaneConsumerOptions } from '../lane-consumer';

/** Default {@link StreamLaneConsumerOptions.batch}. */
export const DEFAULT_STREAM_BATCH = 50;
/** Default {@link StreamLaneConsumerOptions.claimIdleMs}. */
export const DEFAULT_CLAIM_IDLE_MS = 30_000;

/** Options of `consumeLanes` (Redis Streams). */
export interface StreamLaneConsumerOptions extends LaneConsumerOptions {
  /** The stream producers `XADD` to. */
  readonly stream: string;
  /** The consumer group every lane shares (created on the lane streams; on the stream too, from `startId`). */
  readonly group: string;
  /** This consumer's name in the group. Default `<hostname>-<pid>-<random>`. */
  readonly consumer?: string | undefined;
  /** Where the group starts on `stream` when this call creates it. Default `'$'` (new entries). */
  readonly startId?: string | undefined;
  /** Entries per `XREADGROUP` (handled concurrently). Default {@link DEFAULT_STREAM_BATCH}. */
  readonly batch?: number | undefined;
  /**
   * Entries pending longer than this on a consumer of the same lane are claimed (`XAUTOCLAIM`), so
   * a crashed peer's entries are retried. Default {@link DEFAULT_CLAIM_IDLE_MS}.
   */
  readonly claimIdleMs?: number | undefined;
  /**
   * How long a lane consumer's presence lasts without a refresh: its crash is noticed after this.
   * Default 3 × `livenessIntervalMs`.
   */
  readonly livenessTtlMs?: number | undefined;
  /** Lanes a base consumer watches from its start, besides those in `<stream>~lanes`. Default `[]`. */
  readonly lanes?: readonly string[] | undefined;
}

const STREAM_OPTION_KEYS: readonly string[] = Object.keys({
  lane: 1,
  strict: 1,
  fallback: 1,
  livenessIntervalMs: 1,
  header: 1,
  stream: 1,
  group: 1,
  consumer: 1,
  startId: 1,
  batch: 1,
  claimIdleMs: 1,
  livenessTtlMs: 1,
  lanes: 1,
} satisfies Record<keyof StreamLaneConsumerOptions, 1>);

/** One stream entry, as `XREADGROUP` returns it. */
export interface StreamEntry {
  /** The stream it was read from (`<stream>` or a lane stream). */
  readonly stream: string;
  readonly id: string;
  /** `[field, value, field, value, ...]`. */
  readonly fields: readonly string[];
}

/**
 * Handles one entry in its lane (`lane` undefined: untagged or an invalid tag). Resolve to
 * `XACK`; throw or reject to leave it pending (retried after `claimIdleMs`, as in any group).
 */
export type StreamLaneHandler = (entry: StreamEntry, lane: Lane | undefined) => unknown;

/** Validated options. */
export interface CompiledStreamOptions extends CompiledLaneConsumerOptions {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string | undefined;
  readonly startId: string;
  readonly batch: number;
  readonly claimIdleMs: number;
  readonly livenessTtlMs: number;
}

function name(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) {
    throw new InvalidOptionError(path, 'expected a non-empty string');
  }
  return value;
}

/** Validates the options at setup. */
export function compileStreamOptions(options: StreamLaneConsumerOptions): CompiledStreamOptions {
  checkOptionsObject(options, '{ stream, group, lane?, ... }');
  assertKnownOptions('consumeLanes() (@graylane/messaging/redis-streams)', options, STREAM_OPTION_KEYS);
  const { lanes, routing } = compileLaneConsumerOptions(options);
  return Object.freeze({
    stream: name(options.stream, 'stream'),
    group: name(options.group, 'group'),
    consumer: options.consumer === undefined ? undefined : name(options.consumer, 'consumer'),
    startId: name(options.startId ?? '$', 'startId'),
    batch: integerOption(options.batch ?? DEFAULT_STREAM_BATCH, 'batch', 1, 10_000),
    claimIdleMs: integerOption(options.claimIdleMs ?? DEFAULT_CLAIM_IDLE_MS, 'claimIdleMs', 100, 86_400_000),
    livenessTtlMs: integerOption(
      options.livenessTtlMs ?? 3 * routing.livenessIntervalMs,
      'livenessTtlMs',
      routing.livenessIntervalMs + 1,
      86_400_000,
    ),
    lanes,
    routing,
  });
}
