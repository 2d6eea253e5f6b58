import { assertKnownOptions, InvalidOptionError, type Lane } from '@graylane/core';
import type { ConnectionOptions, Job } from 'bullmq';
import {
  type CompiledLaneConsumerOptions,
  checkOptionsObject,
  compileLaneConsumerOptions,
  integerOption,
} from '../internal/consumer-setup';
import type { LaneConsumerOptions } from '../lane-consumer';

/** Default {@link BullLaneConsumerOptions.concurrency}. */
export const DEFAULT_BULL_CONCURRENCY = 10;

/** Options of `consumeLanes` (BullMQ). */
export interface BullLaneConsumerOptions extends LaneConsumerOptions {
  /** The queue producers add jobs to. */
  readonly queue: string;
  /** BullMQ connection (as for `new Worker`). */
  readonly connection: ConnectionOptions;
  /** BullMQ key prefix. Default BullMQ's (`bull`). */
  readonly prefix?: string | undefined;
  /** Jobs processed at once per worker. Default {@link DEFAULT_BULL_CONCURRENCY}. */
  readonly concurrency?: number | undefined;
  /**
   * BullMQ's `lockDuration` of every worker this call starts: a crashed worker's active jobs can
   * be taken back once their lock expired, so with {@link BullLaneConsumerOptions.stalledIntervalMs}
   * this bounds how long they wait after a crash. Keep it above twice the longest event-loop stall
   * (BullMQ renews it every half): an expired lock reads as a crash and the job is handled again.
   * Default BullMQ's (30 s).
   */
  readonly lockDurationMs?: number | undefined;
  /**
   * BullMQ's `stalledInterval` of every worker this call starts: how often active jobs whose
   * lock expired go back to the queue. Give every consumer of the group the same value (BullMQ runs
   * one check per interval per queue, whichever worker's turn it is). Default BullMQ's (30 s).
   */
  readonly stalledIntervalMs?: number | undefined;
  /** Lanes a base consumer watches from its start, besides those it learns from jobs. Default `[]`. */
  readonly lanes?: readonly string[] | undefined;
}

const BULL_OPTION_KEYS: readonly string[] = Object.keys({
  lane: 1,
  strict: 1,
  fallback: 1,
  livenessIntervalMs: 1,
  header: 1,
  queue: 1,
  connection: 1,
  prefix: 1,
  concurrency: 1,
  lockDurationMs: 1,
  stalledIntervalMs: 1,
  lanes: 1,
} satisfies Record<keyof BullLaneConsumerOptions, 1>);

/**
 * Processes one job in its lane (`lane` undefined: untagged or an invalid tag); what it returns is
 * the job's return value, what it throws fails the job (BullMQ's `attempts` and `backoff` apply).
 */
export type BullLaneProcessor = (job: Job, lane: Lane | undefined) => unknown;

/** Validated options. */
export interface CompiledBullOptions extends CompiledLaneConsumerOptions {
  readonly queue: string;
  readonly connection: ConnectionOptions;
  readonly prefix: string | undefined;
  readonly concurrency: number;
  readonly lockDurationMs: number | undefined;
  readonly stalledIntervalMs: number | undefined;
}

/** Validates `queue`, `connection` and `prefix` (a group's queue, for workers and publishers alike); throws `GL_ERR_INVALID_OPTION`. */
export function checkBullGroup(options: {
  readonly queue?: unknown;
  readonly connection?: unknown;
  readonly prefix?: unknown;
}): void {
  const { queue, connection, prefix } = options;
  if (typeof queue !== 'string' || queue.length === 0 || queue.includes(':')) {
    throw new InvalidOptionError('queue', 'expected a queue name without ":"');
  }
  if (typeof connection !== 'object' || connection === null) {
    throw new InvalidOptionError('connection', 'expected BullMQ connection options or an ioredis client');
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) {
    throw new InvalidOptionError('prefix', 'expected a non-empty string');
  }
}

/** Validates the options at setup. */
export function compileBullOptions(options: BullLaneConsumerOptions): CompiledBullOptions {
  checkOptionsObject(options, '{ queue, connection, lane?, ... }');
  assertKnownOptions('consumeLanes() (@graylane/messaging/bullmq)', options, BULL_OPTION_KEYS);
  const { queue, connection, prefix } = options;
  checkBullGroup(options);
  const concurrency = integerOption(
    options.concurrency ?? DEFAULT_BULL_CONCURRENCY,
    'concurrency',
    1,
    10_000,
  );
  const optionalMs = (value: number | undefined, path: string) =>
    value === undefined ? undefined : integerOption(value, path, 100, 86_400_000);
  return Object.freeze({
    queue,
    connection,
    prefix,
    concurrency,
    lockDurationMs: optionalMs(options.lockDurationMs, 'lockDurationMs'),
    stalledIntervalMs: optionalMs(options.stalledIntervalMs, 'stalledIntervalMs'),
    ...compileLaneConsumerOptions(options),
  });
}
