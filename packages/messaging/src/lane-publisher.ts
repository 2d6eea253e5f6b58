import type { Lane } from '@graylane/core';

/**
 * Options every broker's `createLanePublisher` takes (`…/amqp`, `…/redis-streams`, `…/nats`, `…/bullmq`), besides the
 * group's name.
 *
 * @example
 * const options: LanePublisherOptions = { livenessIntervalMs: 1000, lanes: ['gray'] };
 */
export interface LanePublisherOptions {
  /**
   * How often the publisher re-reads which lanes have live consumers, in ms (≥ 50): use the value
   * the group's consumers use. Default `DEFAULT_LIVENESS_INTERVAL_MS` (1000).
   */
  readonly livenessIntervalMs?: number | undefined;
  /** The tag field (header, stream-entry field). Default `x-mse-tag`. */
  readonly header?: string | undefined;
  /** Lanes read from the start, besides those the publisher learns from the messages it sends. Default `[]`. */
  readonly lanes?: readonly string[] | undefined;
}

/**
 * What every broker's `createLanePublisher` returns, besides its publish call.
 *
 * @example
 * process.on('SIGTERM', () => publisher.close());
 */
export interface LanePublisherHandle {
  /** Lanes the publisher last read live: their messages go straight to their lane's queue or stream. */
  liveLanes(): Lane[];
  /** Stops re-reading liveness (and, AMQP, waits for confirms and closes its channels). */
  close(): Promise<void>;
}
