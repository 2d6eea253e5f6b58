import type { Lane } from '@graylane/core';
import type { LaneRoutingOptions } from './lane-routing-options';

/**
 * What every broker's `consumeLanes` returns (`…/amqp`, `…/bullmq`, `…/nats`, `…/redis-streams`);
 * each subpath's handle type extends it and says what its `close()` does on that broker.
 *
 * @example
 * const consumers: LaneConsumerHandle[] = [await amqp.consumeLanes(conn, { queue: 'orders' }, handle)];
 * process.on('SIGTERM', () => Promise.all(consumers.map((c) => c.close())));
 */
export interface LaneConsumerHandle {
  /** The consumer's lane; `undefined` = base consumer. */
  readonly lane: Lane | undefined;
  /** Lanes with a live consumer, as this consumer last read them (a lane consumer: its own). */
  liveLanes(): Lane[];
  /** Stops consuming and finishes what it holds; a connection you passed stays yours. */
  close(): Promise<void>;
}

/**
 * Options every broker's `consumeLanes` takes: how it takes part in the group shared by several
 * lanes ({@link LaneRoutingOptions}) and the lanes a base consumer watches from its start.
 *
 * @example
 * const options: LaneConsumerOptions = { lane: null, strict: ['payments-v2'], lanes: ['gray'] };
 */
export interface LaneConsumerOptions extends LaneRoutingOptions {
  /** Lanes a base consumer watches from its start, besides those it learns on the broker. Default `[]`. */
  readonly lanes?: readonly string[] | undefined;
}
