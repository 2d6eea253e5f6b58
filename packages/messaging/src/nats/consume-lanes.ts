import type { NatsConnection } from '@nats-io/transport-node';
import { checkHandler, startLaneConsumer } from '../internal/consumer-setup';
import type { LaneConsumerHandle } from '../lane-consumer';
import {
  compileNatsOptions,
  type NatsLaneConsumerOptions,
  type NatsLaneHandler,
} from './nats-consumer-options';
import { NatsLaneConsumer } from './nats-lane-consumer';

/** What {@link consumeLanes} (NATS JetStream) returns. */
export interface NatsLaneConsumerHandle extends LaneConsumerHandle {
  /**
   * Stops: a lane consumer first stops answering its presence subject (base consumers take its
   * lane over at their next liveness read), then both finish the pull in flight and ack what
   * they handled. The connection stays yours.
   */
  close(): Promise<void>;
}

/**
 * Consumes a JetStream stream as one member of a consumer group shared by several lanes.
 *
 * - The **base consumer** (`lane: null` on a base instance) pulls from the durable `durable` on
 *   `stream`: it handles untagged and base messages, moves each lane message whose lane has a
 *   live consumer to `<prefix>.lane.<lane>` (stream `<stream>-lanes`, work-queue retention;
 *   published with a message id, so a retried move is deduplicated), and handles the others itself
 *   (permissive) unless the lane is `strict` (moved, they wait).
 * - A **lane consumer** pulls only from its lane's durable (`<durable>-L-<lane>`).
 * - Liveness is the broker's own: each lane consumer answers requests on `<prefix>.live.<lane>`;
 *   base consumers ask every `livenessIntervalMs`, and "no responders" (sent by the server the
 *   moment the last subscription goes) means no live consumer. While a non-strict lane has none,
 *   base consumers also pull from its durable.
 *
 * Handlers run in the message's lane (untagged: the instance lane when core's
 * `enableInstanceLane()` is on, else base); resolve to ack. At least one base consumer must run.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const nc = await connect({ servers: '127.0.0.1:4222' });
 * const consumer = await consumeLanes(nc, { stream: 'ORDERS', durable: 'fulfillment' }, async (msg, lane) => {
 *   await fetch('http://inventory/reserve'); // carries the message's lane
 * });
 */
export async function consumeLanes(
  nc: NatsConnection,
  options: NatsLaneConsumerOptions,
  handler: NatsLaneHandler,
): Promise<NatsLaneConsumerHandle> {
  const compiled = compileNatsOptions(options);
  checkHandler(handler, 'handler');
  return startLaneConsumer(new NatsLaneConsumer(compiled, nc, handler));
}
