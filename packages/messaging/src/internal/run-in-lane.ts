import { backgroundLane, type Lane, withLane } from '@graylane/core';
import { markActiveSpan } from './otel-span';

/**
 * Runs a message handler in the message's lane; an untagged message runs in the background lane
 * (the instance lane while core's `enableInstanceLane()` is on, else base).
 */
export function runInMessageLane<R>(lane: Lane | undefined, fn: () => R): R {
  if (lane === undefined) return withLane(backgroundLane() ?? null, fn);
  markActiveSpan(lane);
  return withLane(lane, fn);
}
