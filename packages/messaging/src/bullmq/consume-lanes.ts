import { checkHandler, startLaneConsumer } from '../internal/consumer-setup';
import type { LaneConsumerHandle } from '../lane-consumer';
import {
  type BullLaneConsumerOptions,
  type BullLaneProcessor,
  compileBullOptions,
} from './bullmq-consumer-options';
import { BullLaneConsumer } from './bullmq-lane-consumer';

/** What {@link consumeLanes} (BullMQ) returns. */
export interface BullLaneConsumerHandle extends LaneConsumerHandle {
  /** Closes its workers (each waits for its active jobs) and queues. */
  close(): Promise<void>;
}

/**
 * Processes a BullMQ queue as one member of a worker pool shared by several lanes.
 *
 * - The **base consumer** (`lane: null` on a base instance) runs a worker on `queue`: it processes
 *   untagged and base jobs, moves each lane job whose lane has a live worker to `<queue>~<lane>`
 *   (added under a job id derived from the original, so a retried move adds nothing; the original
 *   completes with `{ graylane: 'moved to …' }`), and processes the others itself (permissive)
 *   unless the lane is `strict` (moved, they wait).
 * - A **lane consumer** runs a worker on `<queue>~<lane>` only.
 * - Liveness is read from Redis itself: lane workers are named `graylane-lane`, so their
 *   connections show in `CLIENT LIST` (`queue.getWorkers()`) for as long as they live; base
 *   consumers read it every `livenessIntervalMs`. While a non-strict lane has none, base
 *   consumers also run a worker on its queue.
 *
 * Processors run in the job's lane (untagged: the instance lane when core's
 * `enableInstanceLane()` is on, else base). At least one base consumer must run.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const consumer = await consumeLanes({ queue: 'orders', connection: { host: '127.0.0.1' } }, async (job, lane) => {
 *   await fetch('http://inventory/reserve'); // carries the job's lane
 * });
 */
export async function consumeLanes(
  options: BullLaneConsumerOptions,
  processor: BullLaneProcessor,
): Promise<BullLaneConsumerHandle> {
  const compiled = compileBullOptions(options);
  checkHandler(processor, 'processor');
  return startLaneConsumer(new BullLaneConsumer(compiled, processor));
}
