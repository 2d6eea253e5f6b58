import { backgroundLane, type Lane, withLane } from '@graylane/core';
import { markActiveSpan } from './otel-span';

/**
 * Runs a message handler in the message's lane; an untagged message runs in the background lane
 * (the instance lane while core's `enableInstanceLane()` is on, else base). Consumer loops run in
 * their own lane (a base consumer's in base), so a message of the loop's lane enters no new
 * context: `withLane` into the current lane costs nothing.
 */
export function runInMessageLane<R>(lane: Lane | undefined, fn: () => R): R {
  if (lane === undefined) return withLane(backgroundLane() ?? null, fn);
  markActiveSpan(lane);
  return withLane(lane, fn);
}
