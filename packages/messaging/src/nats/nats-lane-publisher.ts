import { assertKnownOptions, currentLane, type Lane, parseLane } from '@graylane/core';
import {
  type JetStreamClient,
  type JetStreamPublishOptions,
  jetstream,
  jetstreamManager,
  type PubAck,
} from '@nats-io/jetstream';
import {
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
  type Payload,
  type Subscription,
} from '@nats-io/transport-node';
import { checkOptionsObject } from '../internal/consumer-setup';
import { LiveLaneCache } from '../internal/live-lane-cache';
import { compileLanePublisherOptions } from '../internal/publisher-setup';
import type { LanePublisherHandle, LanePublisherOptions } from '../lane-publisher';
import { natsLaneStream, natsSubjectPrefix } from './nats-consumer-options';
import { copyHeaders } from './nats-headers';
import { ORIGIN_SUBJECT_HEADER } from './nats-lane-consumer';
import { helloSubject, lanesOnStream, readNatsLaneLiveness } from './nats-liveness';
import { laneSubject } from './nats-names';

/** Options of `createLanePublisher` (NATS JetStream). */
export interface NatsLanePublisherOptions extends LanePublisherOptions {
  /** The group's work stream: the `stream` its `consumeLanes` consumers take. */
  readonly stream: string;
  /** As the consumers' `subjectPrefix`. Default `graylane.<stream>`. */
  readonly subjectPrefix?: string | undefined;
  /** As the consumers' `laneStream`: where the publisher finds the group's lanes at start. Default `<stream>-lanes`. */
  readonly laneStream?: string | undefined;
}

const NATS_PUBLISHER_OPTION_KEYS: readonly string[] = Object.keys({
  stream: 1,
  subjectPrefix: 1,
  laneStream: 1,
  livenessIntervalMs: 1,
  header: 1,
  lanes: 1,
} satisfies Record<keyof NatsLanePublisherOptions, 1>);

/** What {@link createLanePublisher} (NATS JetStream) returns. */
export interface NatsLanePublisher extends LanePublisherHandle {
  /**
   * `js.publish(subject, payload, options)` with the current lane in the headers (as
   * `laneHeaders`): published straight to `<prefix>.lane.<lane>` while that lane has a live
   * consumer (the original subject in `x-graylane-subject`), else to `subject`. Untagged messages,
   * and messages with `options.expect` (their expectations name the work stream), always go to
   * `subject`. Resolves to the stream's ack, as `js.publish`.
   */
  publish(subject: string, payload?: Payload, options?: Partial<JetStreamPublishOptions>): Promise<PubAck>;
}

/**
 * A producer for a work stream consumed with `consumeLanes`, that publishes each lane message
 * straight to its lane's subject while that lane has a live consumer — so it is stored and consumed
 * once, instead of being moved by a base consumer first. Which lanes are live it reads as base
 * consumers do (a request on `<prefix>.live.<lane>`) every `livenessIntervalMs`, and at once when a
 * lane consumer announces itself; lanes not read live, and untagged messages, go to the subject
 * given (base consumers route them as without the publisher).
 *
 * The cache only decides where a message is stored first: a message published to the subject of
 * a lane whose last consumer just stopped is read by base consumers like any pending lane message
 * (`close()`: within one liveness interval; a crash: once the server drops the connection; strict
 * lanes: it waits for the lane's consumer).
 *
 * Lane messages published this way are not in the work stream: use it when that stream feeds only
 * this group (other durables on it would not see them).
 *
 * @param nc A connection (it stays yours).
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const orders = await createLanePublisher(nc, { stream: 'ORDERS' });
 * await orders.publish('orders.created', body); // in the request's lane
 */
export async function createLanePublisher(
  nc: NatsConnection,
  options: NatsLanePublisherOptions,
): Promise<NatsLanePublisher> {
  checkOptionsObject(options, '{ stream, ... }');
  assertKnownOptions('createLanePublisher() (@graylane/messaging/nats)', options, NATS_PUBLISHER_OPTION_KEYS);
  const prefix = natsSubjectPrefix(options);
  const laneStream = natsLaneStream(options);
  const compiled = compileLanePublisherOptions(options);
  // The lanes the group has consumers for, as base consumers find them at start.
  const lanes = new Set(compiled.lanes);
  for (const lane of await lanesOnStream(await jetstreamManager(nc), laneStream, prefix)) lanes.add(lane);
  const publisher = new NatsLanePublisherImpl(nc, prefix, { ...compiled, lanes: [...lanes] });
  await publisher.cache.refresh();
  return publisher;
}

class NatsLanePublisherImpl implements NatsLanePublisher {
  readonly cache: LiveLaneCache;
  readonly #js: JetStreamClient;
  readonly #header: string;
  readonly #prefix: string;
  readonly #subjects = new Map<Lane, string>();
  readonly #laneHeaders = new Map<Lane, { subject: string; headers: MsgHdrs }>();
  readonly #hello: Subscription;

  constructor(
    nc: NatsConnection,
    prefix: string,
    options: { header: string; livenessIntervalMs: number; lanes: readonly Lane[] },
  ) {
    this.#js = jetstream(nc);
    this.#header = options.header;
    this.#prefix = prefix;
    const interval = options.livenessIntervalMs;
    this.cache = new LiveLaneCache(
      async (lanes) => {
        const before = new Set(this.cache.liveLanes());
        const live = new Set<Lane>();
        const reads = lanes.map(async (lane) => {
          const read = await readNatsLaneLiveness(nc, prefix, lane, interval);
          // Cannot tell (a slow reply on a loaded host, a reconnect): keep the last view, as base consumers do.
          if (read === true || (read === undefined && before.has(lane))) live.add(lane);
        });
        await Promise.all(reads);
        return live;
      },
      interval,
      options.lanes,
      ignore,
    );
    // A lane consumer that starts says so: its lane is read at once, as base consumers do.
    this.#hello = nc.subscribe(helloSubject(prefix), {
      callback: (_error, message) => {
        const lane = parseLane(message.string());
        if (lane !== undefined && !this.cache.isLive(lane)) void this.cache.refresh();
      },
    });
  }

  publish(subject: string, payload?: Payload, options?: Partial<JetStreamPublishOptions>): Promise<PubAck> {
    const header = this.#header;
    const given = options?.headers;
    let lane: Lane | undefined;
    if (given?.has(header)) {
      // An existing tag wins, as in laneHeaders; an invalid one goes to base consumers, which count it.
      lane = parseLane(given.get(header));
    } else {
      lane = currentLane();
      if (lane === undefined) return this.#js.publish(subject, payload, options); // untagged: as the plain client
    }
    if (lane === undefined || options?.expect !== undefined || !this.cache.isLive(lane)) {
      if (given?.has(header)) return this.#js.publish(subject, payload, options);
      // Tagged on a copy: the caller may reuse its headers for a message in another lane, or none.
      const tagged = copyHeaders(given);
      tagged.set(header, lane!);
      return this.#js.publish(subject, payload, { ...options, headers: tagged });
    }
    return this.#publishToLane(subject, payload, options, lane);
  }

  #publishToLane(
    subject: string,
    payload: Payload | undefined,
    options: Partial<JetStreamPublishOptions> | undefined,
    lane: Lane,
  ): Promise<PubAck> {
    const target = this.#laneSubject(lane);
    const headers =
      options === undefined ? this.#plainHeaders(lane, subject) : this.#taggedCopy(options, lane, subject);
    return this.#js
      .publish(target, payload, options === undefined ? { headers } : { ...options, headers })
      .catch((error: unknown) => {
        // No stream captures the lane subject (the lane stream was removed): nothing was stored, so
        // the work stream gets it. Any other failure is the caller's, as with `js.publish`.
        if (!isNoResponders(error)) throw error;
        void this.cache.refresh();
        const back = this.#taggedCopy(options, lane, subject);
        back.delete(ORIGIN_SUBJECT_HEADER);
        return this.#js.publish(subject, payload, { ...options, headers: back });
      });
  }

  #laneSubject(lane: Lane): string {
    let target = this.#subjects.get(lane);
    if (target === undefined) {
      target = laneSubject(this.#prefix, lane);
      this.#subjects.set(lane, target);
    }
    return target;
  }

  /**
   * The headers of a lane message published without options: the same for every message of a
   * lane and subject, so built once per lane (for the last subject it was published to) instead
   * of per message. Safe to share: the client encodes headers at once when it publishes and
   * changes them only for options that add headers (msgID, expect, ttl, ...), and this object is
   * never handed to the caller.
   */
  #plainHeaders(lane: Lane, subject: string): MsgHdrs {
    const last = this.#laneHeaders.get(lane);
    if (last !== undefined && last.subject === subject) return last.headers;
    const headers = natsHeaders();
    headers.set(this.#header, lane);
    headers.set(ORIGIN_SUBJECT_HEADER, subject);
    this.#laneHeaders.set(lane, { subject, headers });
    return headers;
  }

  /** A copy: the caller's headers stay as given (they may be reused for another subject). */
  #taggedCopy(options: Partial<JetStreamPublishOptions> | undefined, lane: Lane, subject: string): MsgHdrs {
    const headers = copyHeaders(options?.headers);
    if (!headers.has(this.#header)) headers.set(this.#header, lane);
    if (!headers.has(ORIGIN_SUBJECT_HEADER)) headers.set(ORIGIN_SUBJECT_HEADER, subject);
    return headers;
  }

  liveLanes(): Lane[] {
    return this.cache.liveLanes();
  }

  async close(): Promise<void> {
    this.#hello.unsubscribe();
    await this.cache.close();
  }
}

function ignore(): void {}

/**
 * Whether a publish failed because nothing listens on the subject. The client reports it as
 * `JetStreamNotEnabled` ("jetstream is not enabled") with the "no responders" error as its cause,
 * so the cause chain is read, not only the message.
 */
function isNoResponders(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++)
    if (/no responders/i.test(e.message)) return true;
  return false;
}
