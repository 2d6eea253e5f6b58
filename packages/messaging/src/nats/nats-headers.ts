import { currentLane, LANE_HEADER } from '@graylane/core';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';

/**
 * NATS headers carrying the current lane (`x-mse-tag`), for `js.publish(subject, data, { headers })`.
 * The current lane is the request's lane, else the instance lane while core's
 * `enableInstanceLane()` is on. Headers that already carry a tag keep it; no lane: `existing` is
 * returned as given (possibly `undefined`). Otherwise the tag goes on a copy: `existing` is never
 * changed, so headers reused for a message in another lane (or none) do not carry this one's.
 *
 * @param header Default `x-mse-tag`.
 * @example
 * await js.publish('orders.created', body, { headers: laneHeaders() });
 */
export function laneHeaders(existing?: MsgHdrs, header: string = LANE_HEADER): MsgHdrs | undefined {
  const lane = currentLane();
  if (lane === undefined) return existing;
  if (existing?.has(header)) return existing;
  const out = copyHeaders(existing);
  out.set(header, lane);
  return out;
}

/** New headers holding every value of `given` (none when it is undefined). @internal */
export function copyHeaders(given: MsgHdrs | undefined): MsgHdrs {
  const headers = natsHeaders();
  if (given !== undefined)
    for (const key of given.keys()) for (const v of given.values(key)) headers.append(key, v);
  return headers;
}
