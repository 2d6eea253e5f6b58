import type { Queue } from 'bullmq';
import { LANE_WORKER_NAME } from './bullmq-names';

const LANE_WORKER_SUFFIX = `:w:${LANE_WORKER_NAME}`;

/**
 * Reads from Redis whether a lane has a live consumer, as base consumers and publishers do: `true`
 * while a worker named {@link LANE_WORKER_NAME} is connected on the lane's queue (`CLIENT LIST`,
 * through `queue.getWorkers()`; Redis drops a client whose connection closes), `undefined` when
 * Redis cannot be read (keep the last view).
 */
export async function readBullLaneLiveness(laneQueue: Queue): Promise<boolean | undefined> {
  try {
    const workers = await laneQueue.getWorkers();
    return workers.some((w) => (w.rawname ?? '').endsWith(LANE_WORKER_SUFFIX));
  } catch {
    return undefined;
  }
}
