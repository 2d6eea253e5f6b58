import { currentLane, LANE_HEADER } from '@graylane/core';

/**
 * The fields of a stream entry (`XADD key * f1 v1 f2 v2 ...`) with the current lane appended as
 * an `x-mse-tag` field. The current lane is the request's lane, else the instance lane while
 * core's `enableInstanceLane()` is on. Fields that already carry a tag keep it; no lane, the
 * fields are returned as given.
 *
 * @param header Default `x-mse-tag`.
 * @example
 * await redis.xadd('orders', '*', ...laneFields(['order', '42']));
 */
export function laneFields<T extends string | Buffer | number>(
  fields: readonly T[],
  header: string = LANE_HEADER,
): Array<T | string> {
  const lane = currentLane();
  if (lane === undefined) return fields as T[];
  for (let i = 0; i < fields.length - 1; i += 2) {
    if (String(fields[i]) === header) return fields as T[];
  }
  return [...fields, header, lane];
}
