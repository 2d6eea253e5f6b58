import { checkHandler, startLaneConsumer } from '../internal/consumer-setup';
import type { LaneConsumerHandle } from '../lane-consumer';
import {
  compileStreamOptions,
  type StreamLaneConsumerOptions,
  type StreamLaneHandler,
} from './stream-consumer-options';
import { StreamLaneConsumer, type StreamsClient } from './stream-lane-consumer';

/** What {@link consumeLanes} (Redis Streams) returns. */
export interface StreamLaneConsumerHandle extends LaneConsumerHandle {
  /**
   * Stops reading, finishes and acks the entries it holds, then (a lane consumer) removes its
   * presence so base consumers take its lane over at their next liveness read. Closes the
   * blocking connection it opened; the client you passed stays yours.
   */
  close(): Promise<void>;
}

/**
 * Consumes a Redis stream as one member of a consumer group shared by several lanes.
 *
 * - A **lane consumer** reads only `<stream>~<lane>` (group `group`): only its lane's entries.
 * - The **base consumer** (`lane: null` on a base instance) reads `stream`: it handles untagged and
 *   base entries, moves each lane entry whose lane has a live consumer to `<stream>~<lane>`
 *   (`XACK` + `XADD` in one Lua step, so an entry is never moved twice), and handles the others
 *   itself (permissive) unless the lane is `strict` (moved, they wait). While a non-strict lane has
 *   no live consumer it also reads that lane's stream and claims what its gone consumers held.
 * - Liveness is a sorted set `<stream>~live` in Redis, scored with the Redis server clock: lane
 *   consumers refresh their member every `livenessIntervalMs` (TTL 3×), remove it on `close()`;
 *   base consumers read it every `livenessIntervalMs`.
 *
 * Handlers run in the entry's lane (untagged: the instance lane when core's
 * `enableInstanceLane()` is on, else base); resolve to `XACK`. At least one base consumer must run.
 *
 * @param redis An ioredis client (it is `duplicate()`d once for the blocking reads).
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const consumer = await consumeLanes(new Redis(), { stream: 'orders', group: 'fulfillment' }, async (entry, lane) => {
 *   await fetch('http://inventory/reserve'); // carries the entry's lane
 * });
 */
export async function consumeLanes(
  redis: StreamsClient,
  options: StreamLaneConsumerOptions,
  handler: StreamLaneHandler,
): Promise<StreamLaneConsumerHandle> {
  const compiled = compileStreamOptions(options);
  checkHandler(handler, 'handler');
  return startLaneConsumer(new StreamLaneConsumer(compiled, redis, handler));
}
