import type { Lane } from '@graylane/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import { runInMessageLane } from '../internal/run-in-lane';
import { countConsumed } from '../message-counters';
import type { AmqpLaneHandler, CompiledAmqpOptions } from './amqp-consumer-options';

/**
 * What base and lane consumers share: running the handler in the message's lane, acking, and
 * waiting for handlers in flight on close.
 */
export abstract class AmqpHandling {
  protected readonly options: CompiledAmqpOptions;
  protected readonly channel: Channel;
  readonly #handler: AmqpLaneHandler;
  readonly #inflight = new Set<Promise<void>>();
  protected closed = false;

  constructor(options: CompiledAmqpOptions, channel: Channel, handler: AmqpLaneHandler) {
    this.options = options;
    this.channel = channel;
    this.#handler = handler;
  }

  /** This consumer's lane; `undefined` = base. */
  get lane(): Lane | undefined {
    return this.options.routing.lane;
  }

  /** Runs the handler in `lane`, then acks (or nacks when it throws). */
  protected handle(message: ConsumeMessage, lane: Lane | undefined): void {
    const done = this.#run(message, lane);
    this.#inflight.add(done);
    done.finally(() => this.#inflight.delete(done));
  }

  async #run(message: ConsumeMessage, lane: Lane | undefined): Promise<void> {
    let failed = false;
    try {
      await runInMessageLane(lane, () => this.#handler(message, lane));
    } catch {
      failed = true;
    }
    countConsumed('amqp', lane, this.options.routing.lane, failed);
    this.settle(message, !failed, this.options.requeueOnError);
  }

  /** Acks, or nacks with `requeue`; a closed channel already returned the message to the queue. */
  protected settle(message: ConsumeMessage, ok: boolean, requeue: boolean): void {
    try {
      if (ok) this.channel.ack(message);
      else this.channel.nack(message, false, requeue);
    } catch {
      // The channel closed: the broker requeues every unacked message itself.
    }
  }

  /** Resolves when every handler started so far has settled. */
  protected async drainInflight(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }
}
