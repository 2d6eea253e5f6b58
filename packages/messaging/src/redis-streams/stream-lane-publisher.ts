import { assertKnownOptions, currentLane, InvalidOptionError, type Lane, parseLane } from '@graylane/core';
import { checkOptionsObject } from '../internal/consumer-setup';
import { LiveLaneCache } from '../internal/live-lane-cache';
import { compileLanePublisherOptions } from '../internal/publisher-setup';
import type { LanePublisherHandle, LanePublisherOptions } from '../lane-publisher';
import type { StreamsClient } from './stream-lane-consumer';
import { readStreamLiveness } from './stream-liveness';
import { laneStreamName } from './stream-names';

/** Options of `createLanePublisher` (Redis Streams). */
export interface StreamLanePublisherOptions extends LanePublisherOptions {
  /** The group's stream: the `stream` its `consumeLanes` consumers take. */
  readonly stream: string;
}

const STREAM_PUBLISHER_OPTION_KEYS: readonly string[] = Object.keys({
  stream: 1,
  livenessIntervalMs: 1,
  header: 1,
  lanes: 1,
} satisfies Record<keyof StreamLanePublisherOptions, 1>);

type Field = string | Buffer | number;

/** Where one entry goes and what it holds: see {@link StreamLanePublisher.route}. */
export interface RoutedEntry {
  /** `stream`, or `<stream>~<lane>` while the entry's lane has a live consumer. */
  readonly stream: string;
  /** The fields, with the current lane appended as the tag field (as `laneFields`). */
  readonly fields: ReadonlyArray<Field>;
}

/** What {@link createLanePublisher} (Redis Streams) returns. */
export interface StreamLanePublisher extends LanePublisherHandle {
  /** The group's stream. */
  readonly stream: string;
  /**
   * `redis.xadd(stream, id, ...fields)` with the current lane appended as the tag field (as
   * `laneFields`), added straight to `<stream>~<lane>` while that lane has a live consumer, else to
   * `stream`. Resolves to the entry id.
   */
  xadd(id: string, ...fields: Field[]): Promise<string>;
  /**
   * The same decision without the call, for a pipeline or `MULTI`:
   * `const e = publisher.route(fields); pipeline.xadd(e.stream, '*', ...e.fields)`.
   */
  route(fields: readonly Field[]): RoutedEntry;
}

/**
 * A producer for a stream consumed with `consumeLanes`, that adds each lane entry straight to its
 * lane's stream while that lane has a live consumer — so it is added and read once, not moved by a
 * base consumer first. Which lanes are live it reads as base consumers do (the presence set
 * `<stream>~live`, on the Redis server's clock) every `livenessIntervalMs`; until the first read,
 * and for lanes without a live consumer, entries go to `stream`. Untagged entries always go there.
 *
 * The cache never decides whether an entry is handled, only which stream it enters first: an
 * entry added to the stream of a lane whose last consumer just stopped is read by base consumers
 * like any pending lane entry (within the handoff bound of `consumeLanes`: `close()` ≤ interval,
 * a crash TTL + interval; strict lanes: it waits for the lane's consumer).
 *
 * @param redis An ioredis client (not duplicated; it stays yours).
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const orders = await createLanePublisher(redis, { stream: 'orders' });
 * await orders.xadd('*', 'order', '42'); // in the request's lane
 */
export async function createLanePublisher(
  redis: Pick<StreamsClient, 'call'>,
  options: StreamLanePublisherOptions,
): Promise<StreamLanePublisher> {
  checkOptionsObject(options, '{ stream, ... }');
  assertKnownOptions(
    'createLanePublisher() (@graylane/messaging/redis-streams)',
    options,
    STREAM_PUBLISHER_OPTION_KEYS,
  );
  const { stream } = options;
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > 512) {
    throw new InvalidOptionError('stream', 'expected a non-empty string');
  }
  const compiled = compileLanePublisherOptions(options);
  const publisher = new StreamLanePublisherImpl(redis, stream, compiled);
  await publisher.cache.refresh();
  return publisher;
}

class StreamLanePublisherImpl implements StreamLanePublisher {
  readonly stream: string;
  readonly cache: LiveLaneCache;
  readonly #redis: Pick<StreamsClient, 'call'>;
  readonly #header: string;
  readonly #laneStreams = new Map<Lane, string>();

  constructor(
    redis: Pick<StreamsClient, 'call'>,
    stream: string,
    options: { header: string; livenessIntervalMs: number; lanes: readonly Lane[] },
  ) {
    this.stream = stream;
    this.#redis = redis;
    this.#header = options.header;
    // Redis reads every lane in one step: the publisher reads the whole set whatever lanes it knows.
    this.cache = new LiveLaneCache(
      async () => (await readStreamLiveness(redis, stream)).live,
      options.livenessIntervalMs,
      options.lanes,
      ignore,
    );
  }

  xadd(id: string, ...fields: Field[]): Promise<string> {
    const entry = this.route(fields);
    return this.#redis.call('XADD', [entry.stream, id, ...entry.fields]) as Promise<string>;
  }

  route(fields: readonly Field[]): RoutedEntry {
    const header = this.#header;
    let lane: Lane | undefined;
    let tagged = false;
    for (let i = 0; i < fields.length - 1; i += 2) {
      if (String(fields[i]) === header) {
        // An existing tag wins, as in laneFields; an invalid one goes to base consumers, which count it.
        const value = fields[i + 1];
        lane = parseLane(typeof value === 'string' ? value : String(value));
        tagged = true;
        break;
      }
    }
    let out = fields;
    if (!tagged) {
      lane = currentLane();
      if (lane !== undefined) out = [...fields, header, lane];
    }
    if (lane === undefined || !this.cache.isLive(lane)) return { stream: this.stream, fields: out };
    let key = this.#laneStreams.get(lane);
    if (key === undefined) {
      key = laneStreamName(this.stream, lane);
      this.#laneStreams.set(lane, key);
    }
    return { stream: key, fields: out };
  }

  liveLanes(): Lane[] {
    return this.cache.liveLanes();
  }

  close(): Promise<void> {
    return this.cache.close();
  }
}

function ignore(): void {}
