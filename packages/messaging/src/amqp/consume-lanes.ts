import type { ChannelModel } from 'amqplib';
import { checkHandler, startLaneConsumer } from '../internal/consumer-setup';
import type { LaneConsumerHandle } from '../lane-consumer';
import { AmqpBaseConsumer } from './amqp-base-consumer';
import {
  type AmqpLaneConsumerOptions,
  type AmqpLaneHandler,
  compileAmqpOptions,
} from './amqp-consumer-options';
import { AmqpLaneConsumer } from './amqp-lane-consumer';

/** What {@link consumeLanes} (AMQP) returns. */
export interface AmqpLaneConsumerHandle extends LaneConsumerHandle {
  /**
   * Stops consuming: a lane consumer leaves its presence queue first (base consumers take over its
   * lane within `livenessIntervalMs`), then both finish the messages they hold and close their
   * channels. The connection stays yours.
   */
  close(): Promise<void>;
}

/**
 * Consumes `options.queue` as one member of a consumer group shared by several lanes.
 *
 * - A **lane consumer** (`lane: 'gray'`, or the instance lane) receives only messages of its lane.
 * - The **base consumer** (`lane: null` on a base instance) receives base and untagged messages,
 *   and lane messages whose lane has no live consumer (permissive) — unless the lane is `strict`
 *   (they wait in `<queue>~<lane>` for its consumer). Untagged messages never reach a lane consumer.
 * - Liveness comes from the broker: each lane consumer consumes `<queue>~<lane>~live`; base
 *   consumers read its consumer count every `livenessIntervalMs` (default 1 s), so a lane's
 *   messages move to base within one interval after its last consumer stops, and back within one
 *   interval after one starts.
 *
 * Every handler runs in its message's lane (untagged: the instance lane when core's
 * `enableInstanceLane()` is on, else base); resolve to ack. At least one base consumer must run:
 * it routes lane messages to their lane queues.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const connection = await amqplib.connect('amqp://127.0.0.1');
 * const consumer = await consumeLanes(connection, { queue: 'orders' }, async (msg, lane) => {
 *   await fetch('http://inventory/reserve', { method: 'POST', body: msg.content }); // carries lane
 * });
 */
export async function consumeLanes(
  connection: Pick<ChannelModel, 'createChannel' | 'createConfirmChannel'>,
  options: AmqpLaneConsumerOptions,
  handler: AmqpLaneHandler,
): Promise<AmqpLaneConsumerHandle> {
  const compiled = compileAmqpOptions(options);
  checkHandler(handler, 'handler');
  const channel = await connection.createChannel();
  const confirm = await connection.createConfirmChannel();
  // Errors close the channel; amqplib also emits them, and an unhandled 'error' would crash.
  channel.on('error', ignore);
  confirm.on('error', ignore);
  const consumer =
    compiled.routing.lane === undefined
      ? new AmqpBaseConsumer(compiled, channel, confirm, handler)
      : new AmqpLaneConsumer(compiled, channel, confirm, handler);
  return startLaneConsumer(consumer, () => Promise.allSettled([channel.close(), confirm.close()]));
}

function ignore(): void {}
