import {
  channels,
  type IngressLaneMessage,
  type InvalidTagMessage,
  type InvalidTagReason,
} from './diagnostics';
import { noteLaneIngress } from './internal/propagation-watch';
import type { Lane } from './lane';

/** Distinct lanes counted one by one; past this, requests count under {@link OTHER_LANES}. */
export const MAX_COUNTED_LANES = 256;
/** The counter key for requests in the base lane. */
export const BASE_LANE_KEY = '(base)';
/** The counter key for lanes past {@link MAX_COUNTED_LANES}. */
export const OTHER_LANES = '(other)';

// One mutable cell per lane: counting a request is one map lookup (a `Map<string, number>` takes a
// `get` and a `set`).
const requestsByLane = new Map<string, { count: number }>();
const invalidByReason: Record<InvalidTagReason, number> = {
  grammar: 0,
  oversize: 0,
  unmapped: 0,
  'malformed-baggage': 0,
  conflict: 0,
  type: 0,
  unreadable: 0,
};

/** A snapshot of the process-wide ingress counters. */
export interface IngressCounters {
  /** Requests seen at ingress per lane; the base lane is `(base)`. */
  readonly requests: Record<string, number>;
  /** Tags ignored at ingress, by reason. */
  readonly invalidTags: Readonly<Record<InvalidTagReason, number>> & { readonly total: number };
}

/**
 * Counts a request entering `lane` at ingress (the Express and gRPC adapters call this once per
 * request) and publishes it on `graylane:ingress:lane` while that channel has subscribers.
 * Allocation-free for lanes already seen when nobody subscribes.
 *
 * @param carrier `header` (HTTP, default) or `metadata` (gRPC), reported on the channel.
 * @example
 * countIngress(extractLane(req.headers, RECORD_GETTER, compiled));
 */
export function countIngress(
  lane: Lane | undefined,
  carrier: IngressLaneMessage['carrier'] = 'header',
): void {
  const key = lane ?? BASE_LANE_KEY;
  if (lane !== undefined) noteLaneIngress();
  const seen = requestsByLane.get(key);
  if (seen !== undefined) {
    seen.count++;
  } else if (requestsByLane.size < MAX_COUNTED_LANES) {
    requestsByLane.set(key, { count: 1 });
  } else {
    const other = requestsByLane.get(OTHER_LANES);
    if (other !== undefined) other.count++;
    else requestsByLane.set(OTHER_LANES, { count: 1 });
  }
  if (channels.ingressLane.hasSubscribers) {
    const message: IngressLaneMessage = { lane, carrier };
    channels.ingressLane.publish(message);
  }
}

/**
 * Counts a tag ignored at ingress and publishes it on `graylane:ingress:invalid-tag` (the value
 * cut to 64 characters) while that channel has subscribers. Ingress code calls this; adapters
 * that read tags themselves (gRPC metadata) should too.
 *
 * @example
 * countInvalidTag('metadata', 'x-mse-tag', 'grammar', value);
 */
export function countInvalidTag(
  carrier: InvalidTagMessage['carrier'],
  key: string,
  reason: InvalidTagReason,
  value: string,
): void {
  invalidByReason[reason]++;
  if (channels.invalidTag.hasSubscribers) {
    const message: InvalidTagMessage = {
      carrier,
      key,
      reason,
      value: value.length > 64 ? value.slice(0, 64) : value,
    };
    channels.invalidTag.publish(message);
  }
}

/**
 * The ingress counters since start (or the last {@link resetIngressCounters}).
 *
 * @example
 * ingressCounters().invalidTags.total; // tags ignored so far
 */
export function ingressCounters(): IngressCounters {
  const requests: Record<string, number> = {};
  for (const [lane, seen] of requestsByLane) requests[lane] = seen.count;
  let total = 0;
  for (const reason in invalidByReason) total += invalidByReason[reason as InvalidTagReason];
  return { requests, invalidTags: { ...invalidByReason, total } };
}

/** Zeroes the ingress counters (tests, or an operator's reset button). */
export function resetIngressCounters(): void {
  requestsByLane.clear();
  for (const reason in invalidByReason) invalidByReason[reason as InvalidTagReason] = 0;
}
