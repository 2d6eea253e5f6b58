import { type Lane, parseLane } from '@graylane/core';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { readMessageLane } from '../internal/lane-tag';
import { countFellBack, countRouted, publishLiveness } from '../message-counters';
import type { AmqpLaneHandler, CompiledAmqpOptions } from './amqp-consumer-options';
import { AmqpHandling } from './amqp-handling';
import { readLaneLiveness } from './amqp-liveness';
import { ANNOUNCE_HEADER, laneQueueName } from './amqp-names';

interface LaneState {
  /** `undefined` until the first liveness read. */
  live: boolean | undefined;
  firstRead: Promise<void> | null;
  laneQueue: Promise<unknown> | null;
  /** Consumer tag while this base consumer drains the lane's queue (the lane has no live consumer). */
  drainTag: string | null;
  drainStarting: boolean;
}

/**
 * The base consumer: consumes the work queue; handles base messages itself and routes each lane
 * message to the first lane of its chain that has a live consumer (moved to `<queue>~<lane>` with a
 * publisher confirm, then acked), else handles it (permissive) or parks it in its lane queue
 * (strict). Every `livenessIntervalMs` it reads each known lane's presence-queue consumer count;
 * while a non-strict lane has no live consumer it also drains that lane's queue.
 */
export class AmqpBaseConsumer extends AmqpHandling {
  readonly #confirm: ConfirmChannel;
  readonly #lanes = new Map<Lane, LaneState>();
  #mainTag: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;

  constructor(
    options: CompiledAmqpOptions,
    channel: Channel,
    confirm: ConfirmChannel,
    handler: AmqpLaneHandler,
  ) {
    super(options, channel, handler);
    this.#confirm = confirm;
  }

  async start(): Promise<void> {
    await this.channel.prefetch(this.options.prefetch);
    await Promise.all(this.options.lanes.map((lane) => this.#track(lane).firstRead));
    const { consumerTag } = await this.channel.consume(
      this.options.queue,
      this.inOwnLane((m) => this.#onMessage(m, undefined)),
    );
    this.#mainTag = consumerTag;
    this.#timer = setInterval(() => void this.#poll(), this.options.routing.livenessIntervalMs);
    this.#timer.unref();
  }

  /** The lanes this consumer currently sees live consumers for. */
  liveLanes(): Lane[] {
    const live: Lane[] = [];
    for (const [lane, state] of this.#lanes) if (state.live === true) live.push(lane);
    return live.sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    const tags = [this.#mainTag, ...[...this.#lanes.values()].map((s) => s.drainTag)];
    await Promise.allSettled(tags.filter((t): t is string => t !== null).map((t) => this.channel.cancel(t)));
    await this.drainInflight();
    await Promise.allSettled([this.#confirm.waitForConfirms()]);
    await this.drainInflight();
    await Promise.allSettled([this.channel.close(), this.#confirm.close()]);
  }

  #onMessage(message: ConsumeMessage | null, source: Lane | undefined): void {
    if (message === null) return; // the broker cancelled the consumer (queue deleted)
    const headers = message.properties.headers;
    const announced = headers?.[ANNOUNCE_HEADER];
    if (announced !== undefined) {
      // A lane consumer started: watch its lane from now on. Not a message for the handler.
      const lane = parseLane(typeof announced === 'string' ? announced : String(announced));
      if (lane === undefined) {
        this.settle(message, true, false);
      } else {
        const known = this.#lanes.get(lane);
        // A lane seen before is read again now, so a consumer that comes back gets its lane at once.
        const read = known === undefined ? this.#track(lane).firstRead : this.#read(lane, known);
        void read?.finally(() => this.settle(message, true, false));
      }
      return;
    }
    const header = this.options.routing.header;
    const lane = readMessageLane(headers?.[header], 'amqp', header);
    if (lane === undefined) {
      this.handle(message, undefined);
      return;
    }
    const chain = this.options.routing.chain(lane);
    let pending: Promise<void>[] | null = null;
    for (const l of chain) {
      const state = this.#track(l);
      if (state.live !== undefined || state.firstRead === null) continue;
      if (pending === null) pending = [];
      pending.push(state.firstRead);
    }
    if (pending === null) this.#route(message, lane, chain, source);
    else Promise.allSettled(pending).then(() => this.#route(message, lane, chain, source));
  }

  #route(message: ConsumeMessage, lane: Lane, chain: readonly Lane[], source: Lane | undefined): void {
    for (const target of chain) {
      if (this.#lanes.get(target)?.live === true) {
        if (target !== lane) countFellBack('amqp', lane, target);
        this.#forward(message, target);
        return;
      }
    }
    if (this.options.routing.strict(lane) && source !== lane) {
      this.#forward(message, lane);
      return;
    }
    countFellBack('amqp', lane, undefined);
    this.handle(message, lane);
  }

  /** Moves `message` to `target`'s lane queue: published with a confirm, then acked here. */
  #forward(message: ConsumeMessage, target: Lane): void {
    const state = this.#track(target);
    state.laneQueue ??= this.#confirm.assertQueue(
      laneQueueName(this.options.queue, target),
      this.options.laneQueueOptions,
    );
    state.laneQueue.then(
      () => {
        this.#confirm.sendToQueue(
          laneQueueName(this.options.queue, target),
          message.content,
          message.properties,
          (error: unknown) => {
            if (error === null || error === undefined) countRouted(target);
            this.settle(message, error === null || error === undefined, true);
          },
        );
      },
      () => this.settle(message, false, true),
    );
  }

  #track(lane: Lane): LaneState {
    let state = this.#lanes.get(lane);
    if (state === undefined) {
      state = { live: undefined, firstRead: null, laneQueue: null, drainTag: null, drainStarting: false };
      this.#lanes.set(lane, state);
      state.firstRead = this.#read(lane, state);
    }
    return state;
  }

  /** Reads a lane's liveness from its presence queue's consumer count, and drains or stops draining. */
  async #read(lane: Lane, state: LaneState): Promise<void> {
    let live: boolean;
    try {
      live = await readLaneLiveness(this.#confirm, this.options.queue, lane);
    } catch {
      return; // channel closed: keep what we knew
    }
    if (state.live !== live) {
      state.live = live;
      publishLiveness('amqp', this.options.queue, lane, live);
    }
    if (this.closed) return;
    if (!live && !this.options.routing.strict(lane)) await this.#startDrain(lane, state);
    else if (live && state.drainTag !== null) {
      const tag = state.drainTag;
      state.drainTag = null;
      await this.channel.cancel(tag).catch(() => undefined);
    }
  }

  async #startDrain(lane: Lane, state: LaneState): Promise<void> {
    if (state.drainTag !== null || state.drainStarting) return;
    state.drainStarting = true;
    try {
      const queue = laneQueueName(this.options.queue, lane);
      state.laneQueue ??= this.#confirm.assertQueue(queue, this.options.laneQueueOptions);
      await state.laneQueue;
      // Lowest priority: a lane consumer that comes back gets the messages first while we notice.
      const { consumerTag } = await this.channel.consume(
        queue,
        this.inOwnLane((m) => this.#onMessage(m, lane)),
        {
          priority: -1,
        },
      );
      if (this.closed || state.live === true) await this.channel.cancel(consumerTag).catch(() => undefined);
      else state.drainTag = consumerTag;
    } catch {
      // channel closed; the next poll retries while open
    } finally {
      state.drainStarting = false;
    }
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.closed) return;
    this.#polling = true;
    try {
      await Promise.all([...this.#lanes].map(([lane, state]) => this.#read(lane, state)));
    } finally {
      this.#polling = false;
    }
  }
}
