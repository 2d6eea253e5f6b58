import type { Lane } from '@graylane/core';

/** Worker name of lane workers: their connection name (`CLIENT LIST`) is how base consumers see them. */
export const LANE_WORKER_NAME = 'graylane-lane';

/**
 * The queue a lane's jobs go to (and its workers process): `<queue>~<lane>`.
 *
 * @example
 * laneQueueName('orders', 'gray'); // 'orders~gray'
 */
export function laneQueueName(queue: string, lane: Lane): string {
  return `${queue}~${lane}`;
}
