import { AsyncResource } from 'node:async_hooks';
import { type Lane, withLane } from '@graylane/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import { runInMessageLane } from '../internal/run-in-lane';
import { isThenable } from '../internal/thenable';
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
  /** Handlers whose promise has not settled yet; `#idle` is what `drainInflight` waits on. */
  #inflight = 0;
  #idle: { promise: Promise<void>; resolve: () => void } | null = null;
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

  /**
   * `deliver` bound to this consumer's lane (a base consumer's: no lane). amqplib calls it from its
   * socket, outside any lane, so each message would enter a new async context of its own; bound,
   * a message of the consumer's own lane enters none (`withLane` into the current lane is free) —
   * as the Redis Streams, NATS and BullMQ consumers, which run their read loops in their lane.
   */
  protected inOwnLane(
    deliver: (message: ConsumeMessage | null) => void,
  ): (message: ConsumeMessage | null) => void {
    // A resource made in the lane carries it; `runInAsyncScope` with the one argument spreads no
    // array (`AsyncResource.bind`'s wrapper does, on every call).
    const scope = withLane(
      this.options.routing.lane ?? null,
      () => new AsyncResource('graylane.amqp.deliver'),
    );
    return (message) => scope.runInAsyncScope(deliver, null, message);
  }

  /**
   * Runs the handler in `lane`, then acks (or nacks when it throws). A handler that returns no
   * promise is settled at once: no promise is made per message on that path.
   */
  protected handle(message: ConsumeMessage, lane: Lane | undefined): void {
    let result: unknown;
    try {
      result = runInMessageLane(lane, () => this.#handler(message, lane));
    } catch {
      this.#finish(message, lane, true);
      return;
    }
    if (!isThenable(result)) {
      this.#finish(message, lane, false);
      return;
    }
    this.#inflight++;
    result.then(
      () => this.#settled(message, lane, false),
      () => this.#settled(message, lane, true),
    );
  }

  #settled(message: ConsumeMessage, lane: Lane | undefined, failed: boolean): void {
    this.#finish(message, lane, failed);
    if (--this.#inflight === 0 && this.#idle !== null) {
      this.#idle.resolve();
      this.#idle = null;
    }
  }

  #finish(message: ConsumeMessage, lane: Lane | undefined, failed: boolean): void {
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
    while (this.#inflight > 0) {
      if (this.#idle === null) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.#idle = { promise, resolve };
      }
      await this.#idle.promise;
    }
  }
}
