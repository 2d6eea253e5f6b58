import { assertKnownOptions, currentLane, InvalidOptionError, type Lane, parseLane } from '@graylane/core';
import type { Channel, ChannelModel, ConfirmChannel, Options, Replies } from 'amqplib';
import { checkOptionsObject } from '../internal/consumer-setup';
import { LiveLaneCache } from '../internal/live-lane-cache';
import { compileLanePublisherOptions } from '../internal/publisher-setup';
import type { LanePublisherHandle, LanePublisherOptions } from '../lane-publisher';
import { announceLane, readLaneLiveness } from './amqp-liveness';
import { laneQueueName } from './amqp-names';

/** Options of `createLanePublisher` (AMQP). */
export interface AmqpLanePublisherOptions extends LanePublisherOptions {
  /** The group's work queue: the `queue` its `consumeLanes` consumers take. */
  readonly queue: string;
  /** `assertQueue` options of the lane queues, as given to `consumeLanes`. Default `{ durable: true }`. */
  readonly laneQueueOptions?: Options.AssertQueue | undefined;
}

const AMQP_PUBLISHER_OPTION_KEYS: readonly string[] = Object.keys({
  queue: 1,
  laneQueueOptions: 1,
  livenessIntervalMs: 1,
  header: 1,
  lanes: 1,
} satisfies Record<keyof AmqpLanePublisherOptions, 1>);

/** What {@link createLanePublisher} (AMQP) returns. */
export interface AmqpLanePublisher extends LanePublisherHandle {
  /** The work queue. */
  readonly queue: string;
  /**
   * `confirmChannel.sendToQueue(queue, content, options, callback)`, with the current lane put in
   * the headers (as `lanePublishOptions`), sent straight to `<queue>~<lane>` while that lane has a
   * live consumer, else to the work queue. Returns what amqplib returns (`false`: wait for `drain`).
   */
  sendToQueue(
    content: Buffer,
    options?: Options.Publish,
    callback?: (err: unknown, ok: Replies.Empty) => void,
  ): boolean;
  /** Resolves when the broker confirmed every message sent so far (rejects if it refused one). */
  waitForConfirms(): Promise<void>;
  /** The confirm channel it publishes on (for its `drain` and `error` events). */
  readonly channel: ConfirmChannel;
}

const NO_OPTIONS: Options.Publish = Object.freeze({});

/**
 * A publisher to the work queue of a group consumed with `consumeLanes`, that sends each lane
 * message straight to its lane's queue while that lane has a live consumer — so it is published
 * and consumed once, not moved by a base consumer first. Which lanes are live it reads from the
 * broker as base consumers do (the presence queues' consumer counts), every `livenessIntervalMs`;
 * a lane it has not seen yet is read at once and its first messages go to the work queue.
 * Untagged messages always go to the work queue.
 *
 * The cache never decides whether a message is handled, only which queue it enters first: a
 * message sent to the queue of a lane whose last consumer just stopped is taken by base consumers
 * like any pending lane message (within the handoff bound of `consumeLanes`; strict lanes: it
 * waits for the lane's consumer). When it reads a lane gone, it announces the lane through the
 * work queue, so base consumers started since then learn it too.
 *
 * Publishing to an exchange? Use `lanePublishOptions` (the tag only): base consumers route.
 *
 * @param connection It opens two channels on it (publishing with confirms, liveness reads); the connection stays yours.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const orders = await createLanePublisher(connection, { queue: 'orders' });
 * orders.sendToQueue(Buffer.from(JSON.stringify(order)), { persistent: true }); // in the request's lane
 * await orders.waitForConfirms();
 */
export async function createLanePublisher(
  connection: Pick<ChannelModel, 'createChannel' | 'createConfirmChannel'>,
  options: AmqpLanePublisherOptions,
): Promise<AmqpLanePublisher> {
  checkOptionsObject(options, '{ queue, ... }');
  assertKnownOptions('createLanePublisher() (@graylane/messaging/amqp)', options, AMQP_PUBLISHER_OPTION_KEYS);
  const { queue } = options;
  if (typeof queue !== 'string' || queue.length === 0 || Buffer.byteLength(queue) > 200) {
    throw new InvalidOptionError('queue', 'expected a queue name (1..200 bytes)');
  }
  const laneQueueOptions = options.laneQueueOptions ?? { durable: true };
  if (typeof laneQueueOptions !== 'object' || laneQueueOptions === null) {
    throw new InvalidOptionError('laneQueueOptions', 'expected assertQueue options');
  }
  const compiled = compileLanePublisherOptions(options);
  const channel = await connection.createConfirmChannel();
  channel.on('error', ignore);
  const publisher = new AmqpLanePublisherImpl(connection, channel, queue, laneQueueOptions, compiled);
  await publisher.cache.refresh();
  return publisher;
}

class AmqpLanePublisherImpl implements AmqpLanePublisher {
  readonly queue: string;
  readonly channel: ConfirmChannel;
  readonly cache: LiveLaneCache;
  readonly #connection: Pick<ChannelModel, 'createChannel'>;
  readonly #laneQueueOptions: Options.AssertQueue;
  readonly #header: string;
  /** Lane → its queue name, once that queue was asserted (so a direct send never hits a missing queue). */
  readonly #laneQueues = new Map<Lane, string>();
  #reader: Promise<Channel> | null = null;
  #closed = false;

  constructor(
    connection: Pick<ChannelModel, 'createChannel'>,
    channel: ConfirmChannel,
    queue: string,
    laneQueueOptions: Options.AssertQueue,
    options: { header: string; livenessIntervalMs: number; lanes: readonly Lane[] },
  ) {
    this.queue = queue;
    this.channel = channel;
    this.#connection = connection;
    this.#laneQueueOptions = laneQueueOptions;
    this.#header = options.header;
    this.cache = new LiveLaneCache(
      (lanes) => this.#readLive(lanes),
      options.livenessIntervalMs,
      options.lanes,
      (lane) => this.#announce(lane),
    );
  }

  sendToQueue(
    content: Buffer,
    options?: Options.Publish,
    callback?: (err: unknown, ok: Replies.Empty) => void,
  ): boolean {
    const header = this.#header;
    const headers = options?.headers as Record<string, unknown> | undefined;
    const tagged = headers?.[header];
    let lane: Lane | undefined;
    let publish = options ?? NO_OPTIONS;
    if (tagged !== undefined) {
      // An existing tag wins, as in lanePublishOptions; an invalid one goes to base consumers, which count it.
      lane = typeof tagged === 'string' ? parseLane(tagged) : undefined;
    } else {
      lane = currentLane();
      if (lane !== undefined) publish = { ...options, headers: { ...headers, [header]: lane } };
    }
    let target = this.queue;
    if (lane !== undefined && this.cache.isLive(lane)) target = this.#laneQueues.get(lane) ?? target;
    return this.channel.sendToQueue(target, content, publish, callback);
  }

  waitForConfirms(): Promise<void> {
    return this.channel.waitForConfirms();
  }

  liveLanes(): Lane[] {
    return this.cache.liveLanes();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.cache.close();
    await Promise.allSettled([this.channel.waitForConfirms()]);
    const reader = this.#reader;
    await Promise.allSettled([this.channel.close(), reader?.then((ch) => ch.close())]);
  }

  /** Reads each lane's presence queue on a channel of its own (a failed read cannot close the publishing one). */
  async #readLive(lanes: readonly Lane[]): Promise<ReadonlySet<Lane>> {
    if (this.#reader === null) {
      const opening = this.#connection.createChannel();
      this.#reader = opening;
      opening.then(
        (ch) => {
          ch.on('error', ignore);
          // A channel the broker closed is opened again at the next read.
          ch.on('close', () => {
            if (this.#reader === opening) this.#reader = null;
          });
        },
        () => {
          if (this.#reader === opening) this.#reader = null;
        },
      );
    }
    const reader = await this.#reader;
    const live = new Set<Lane>();
    await Promise.all(
      lanes.map(async (lane) => {
        if (!(await readLaneLiveness(reader, this.queue, lane))) return;
        if (!this.#laneQueues.has(lane)) {
          const name = laneQueueName(this.queue, lane);
          await reader.assertQueue(name, this.#laneQueueOptions);
          this.#laneQueues.set(lane, name);
        }
        live.add(lane);
      }),
    );
    return live;
  }

  #announce(lane: Lane): void {
    try {
      announceLane(this.channel, this.queue, lane);
    } catch {
      // the channel closed: publishing fails too, and the user sees that
    }
  }
}

function ignore(): void {}
