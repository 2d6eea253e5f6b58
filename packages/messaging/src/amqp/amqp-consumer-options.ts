import { assertKnownOptions, InvalidOptionError, type Lane } from '@graylane/core';
import type { ConsumeMessage, Options } from 'amqplib';
import {
  type CompiledLaneConsumerOptions,
  checkOptionsObject,
  compileLaneConsumerOptions,
  integerOption,
} from '../internal/consumer-setup';
import type { LaneConsumerOptions } from '../lane-consumer';

/** Default {@link AmqpLaneConsumerOptions.prefetch}. */
export const DEFAULT_AMQP_PREFETCH = 100;

/** Options of `consumeLanes` (AMQP). */
export interface AmqpLaneConsumerOptions extends LaneConsumerOptions {
  /** The work queue every producer publishes to (declared by you, as without graylane). */
  readonly queue: string;
  /** Unacknowledged messages per consumer (`basic.qos`). Default {@link DEFAULT_AMQP_PREFETCH}. */
  readonly prefetch?: number | undefined;
  /** When the handler throws: `nack` with requeue (`true`) or without (`false`: dead-lettered if the queue has a DLX). Default `false`. */
  readonly requeueOnError?: boolean | undefined;
  /** `assertQueue` options of the lane queues (`<queue>~<lane>`). Default `{ durable: true }`. */
  readonly laneQueueOptions?: Options.AssertQueue | undefined;
  /** Lanes a base consumer watches from its start, besides those it learns from the messages it sees. Default `[]`. */
  readonly lanes?: readonly string[] | undefined;
}

const AMQP_OPTION_KEYS: readonly string[] = Object.keys({
  lane: 1,
  strict: 1,
  fallback: 1,
  livenessIntervalMs: 1,
  header: 1,
  queue: 1,
  prefetch: 1,
  requeueOnError: 1,
  laneQueueOptions: 1,
  lanes: 1,
} satisfies Record<keyof AmqpLaneConsumerOptions, 1>);

/**
 * Handles one message, in its lane. `lane` is the message's lane (`undefined`: untagged, or an
 * invalid tag). Resolve to acknowledge; throw or reject to `nack` (see `requeueOnError`).
 */
export type AmqpLaneHandler = (message: ConsumeMessage, lane: Lane | undefined) => unknown;

/** Validated options. */
export interface CompiledAmqpOptions extends CompiledLaneConsumerOptions {
  readonly queue: string;
  readonly prefetch: number;
  readonly requeueOnError: boolean;
  readonly laneQueueOptions: Options.AssertQueue;
}

/** Validates the options at setup. */
export function compileAmqpOptions(options: AmqpLaneConsumerOptions): CompiledAmqpOptions {
  checkOptionsObject(options, '{ queue, lane?, ... }');
  assertKnownOptions('consumeLanes() (@graylane/messaging/amqp)', options, AMQP_OPTION_KEYS);
  const { queue } = options;
  if (typeof queue !== 'string' || queue.length === 0 || Buffer.byteLength(queue) > 200) {
    throw new InvalidOptionError('queue', 'expected a queue name (1..200 bytes)');
  }
  const prefetch = integerOption(options.prefetch ?? DEFAULT_AMQP_PREFETCH, 'prefetch', 1, 65_535);
  const requeueOnError = options.requeueOnError ?? false;
  if (typeof requeueOnError !== 'boolean')
    throw new InvalidOptionError('requeueOnError', 'expected a boolean');
  const laneQueueOptions = options.laneQueueOptions ?? { durable: true };
  if (typeof laneQueueOptions !== 'object' || laneQueueOptions === null) {
    throw new InvalidOptionError('laneQueueOptions', 'expected assertQueue options');
  }
  return Object.freeze({
    queue,
    prefetch,
    requeueOnError,
    laneQueueOptions,
    ...compileLaneConsumerOptions(options),
  });
}
