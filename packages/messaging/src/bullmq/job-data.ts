import { currentLane, LANE_HEADER } from '@graylane/core';

/**
 * Job data carrying the current lane under `x-mse-tag`, for `queue.add(name, laneJobData(data))`.
 * The current lane is the request's lane, else the instance lane while core's
 * `enableInstanceLane()` is on. Data that already carries a tag keeps it; no lane, or data that is
 * not a plain object (it cannot hold a field): returned as given.
 *
 * @param header Default `x-mse-tag`.
 * @example
 * await queue.add('reserve', laneJobData({ order: 42 }));
 */
export function laneJobData<T>(data: T, header: string = LANE_HEADER): T {
  const lane = currentLane();
  if (lane === undefined || typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  if ((data as Record<string, unknown>)[header] !== undefined) return data;
  return { ...data, [header]: lane };
}
