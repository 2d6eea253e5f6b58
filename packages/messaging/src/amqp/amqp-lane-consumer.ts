import type { Lane } from '@graylane/core';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { readMessageLane } from '../internal/lane-tag';
import type { AmqpLaneHandler, CompiledAmqpOptions } from './amqp-consumer-options';
import { AmqpHandling } from './amqp-handling';
import { announceLane } from './amqp-liveness';
import { laneQueueName, PRESENCE_QUEUE_OPTIONS, presenceQueueName } from './amqp-names';

/**
 * A lane consumer: consumes its presence queue (that is its liveness, read by base consumers from
 * the broker) and its lane queue. It never consumes the work queue, so it only ever sees messages
 * base consumers routed to its lane. On close it leaves the presence queue first, so base
 * consumers take over, then finishes the messages it has.
 */
export class AmqpLaneConsumer extends AmqpHandling {
  readonly #confirm: ConfirmChannel;
  readonly #self: Lane;
  #presenceTag: string | null = null;
  #laneTag: string | null = null;

  constructor(
    options: CompiledAmqpOptions,
    channel: Channel,
    confirm: ConfirmChannel,
    handler: AmqpLaneHandler,
  ) {
    super(options, channel, handler);
    this.#confirm = confirm;
    this.#self = options.routing.lane as Lane;
  }

  async start(): Promise<void> {
    const { queue, prefetch, laneQueueOptions } = this.options;
    await this.channel.prefetch(prefetch);
    const laneQueue = laneQueueName(queue, this.#self);
    const presenceQueue = presenceQueueName(queue, this.#self);
    await this.channel.assertQueue(laneQueue, laneQueueOptions);
    await this.channel.assertQueue(presenceQueue, PRESENCE_QUEUE_OPTIONS);
    this.#presenceTag = (await this.channel.consume(presenceQueue, ignore, { noAck: true })).consumerTag;
    this.#laneTag = (
      await this.channel.consume(
        laneQueue,
        this.inOwnLane((m) => this.#onMessage(m)),
      )
    ).consumerTag;
    // Tell base consumers this lane exists (they learn lanes from what passes the work queue).
    announceLane(this.#confirm, queue, this.#self);
    await this.#confirm.waitForConfirms();
  }

  /** A lane consumer reports only its own lane. */
  liveLanes(): Lane[] {
    return [this.#self];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.#presenceTag !== null) await this.channel.cancel(this.#presenceTag).catch(() => undefined);
    if (this.#laneTag !== null) await this.channel.cancel(this.#laneTag).catch(() => undefined);
    await this.drainInflight();
    await Promise.allSettled([this.#confirm.waitForConfirms()]);
    await Promise.allSettled([this.channel.close(), this.#confirm.close()]);
  }

  #onMessage(message: ConsumeMessage | null): void {
    if (message === null) return;
    const header = this.options.routing.header;
    const lane = readMessageLane(message.properties.headers?.[header], 'amqp', header);
    if (lane !== undefined) {
      this.handle(message, lane);
      return;
    }
    // Published straight into the lane queue without a (valid) tag: untagged messages never reach
    // a lane consumer, so it goes back to the work queue for base consumers.
    this.#confirm.sendToQueue(this.options.queue, message.content, message.properties, (error: unknown) =>
      this.settle(message, error === null || error === undefined, true),
    );
  }
}

function ignore(): void {}
