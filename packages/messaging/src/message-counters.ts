import * as diagnosticsChannel from 'node:diagnostics_channel';
import { BASE_LANE_KEY, type Lane, MAX_COUNTED_LANES, OTHER_LANES } from '@graylane/core';

/** The brokers `@graylane/messaging` speaks to, as named in counters and channel messages. */
export type Broker = 'amqp' | 'redis-streams' | 'nats' | 'bullmq';

/**
 * The diagnostics channels of `@graylane/messaging`; messages are published only while a channel
 * has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:messaging:consume` | {@link MessageConsumedMessage} — a handler finished a message |
 * | `graylane:messaging:fallback` | {@link MessageFallbackMessage} — a lane message was served by another consumer lane |
 * | `graylane:messaging:liveness` | {@link LaneLivenessMessage} — a base consumer saw a lane's consumers come or go |
 *
 * Invalid tags go to core's `graylane:ingress:invalid-tag` (carrier `header`), as at HTTP ingress.
 *
 * @example
 * diagnosticsChannel.subscribe('graylane:messaging:fallback', (m) => console.log(m));
 */
export const messagingChannels = Object.freeze({
  consume: diagnosticsChannel.channel('graylane:messaging:consume'),
  fallback: diagnosticsChannel.channel('graylane:messaging:fallback'),
  liveness: diagnosticsChannel.channel('graylane:messaging:liveness'),
});

/** Published on `graylane:messaging:consume`. */
export interface MessageConsumedMessage {
  readonly broker: Broker;
  /** The message's lane; `undefined` = base (untagged or invalid tag). */
  readonly lane: Lane | undefined;
  /** The lane of the consumer that handled it; `undefined` = base consumer. */
  readonly consumerLane: Lane | undefined;
  /** The handler threw or rejected. */
  readonly failed: boolean;
}

/** Published on `graylane:messaging:fallback`. */
export interface MessageFallbackMessage {
  readonly broker: Broker;
  readonly lane: Lane;
  /** The consumer lane that serves it instead (`undefined` = base). */
  readonly servedLane: Lane | undefined;
}

/** Published on `graylane:messaging:liveness`. */
export interface LaneLivenessMessage {
  readonly broker: Broker;
  /** The queue, stream or subject group. */
  readonly group: string;
  readonly lane: Lane;
  readonly live: boolean;
}

/** Per-lane message counters of one process (see {@link messageLaneCounters}). */
export interface MessageLaneCounters {
  /** Messages handled per message lane (`(base)` = untagged or invalid tag). */
  readonly consumed: Record<string, number>;
  /** Lane messages handled by another consumer lane (base, or a fallback-chain lane) because their lane had no live consumer. */
  readonly fellBack: Record<string, number>;
  /** Lane messages a base consumer handed to their lane's consumers (queue, stream or group of the lane). */
  readonly routed: Record<string, number>;
  /** Messages whose lane tag was ignored (invalid), per broker. */
  readonly invalidTags: Record<string, number>;
}

const consumed = new Map<string, number>();
const fellBack = new Map<string, number>();
const routed = new Map<string, number>();
const invalidTags = new Map<string, number>();

function bump(map: Map<string, number>, key: string): void {
  const seen = map.get(key);
  if (seen !== undefined) map.set(key, seen + 1);
  else if (map.size < MAX_COUNTED_LANES) map.set(key, 1);
  else map.set(OTHER_LANES, (map.get(OTHER_LANES) ?? 0) + 1);
}

/** @internal Counts a finished handler and publishes it while the channel has subscribers. */
export function countConsumed(
  broker: Broker,
  lane: Lane | undefined,
  consumerLane: Lane | undefined,
  failed: boolean,
): void {
  bump(consumed, lane ?? BASE_LANE_KEY);
  if (messagingChannels.consume.hasSubscribers) {
    const message: MessageConsumedMessage = { broker, lane, consumerLane, failed };
    messagingChannels.consume.publish(message);
  }
}

/** @internal Counts a lane message served by another consumer lane. */
export function countFellBack(broker: Broker, lane: Lane, servedLane: Lane | undefined): void {
  bump(fellBack, lane);
  if (messagingChannels.fallback.hasSubscribers) {
    const message: MessageFallbackMessage = { broker, lane, servedLane };
    messagingChannels.fallback.publish(message);
  }
}

/** @internal Counts a lane message handed to its lane's consumers. */
export function countRouted(lane: Lane): void {
  bump(routed, lane);
}

/** @internal Counts an ignored tag. */
export function countInvalidMessageTag(broker: Broker): void {
  bump(invalidTags, broker);
}

/** @internal Publishes a liveness change. */
export function publishLiveness(broker: Broker, group: string, lane: Lane, live: boolean): void {
  if (messagingChannels.liveness.hasSubscribers) {
    const message: LaneLivenessMessage = { broker, group, lane, live };
    messagingChannels.liveness.publish(message);
  }
}

function record(map: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, count] of map) out[key] = count;
  return out;
}

/**
 * The message counters of this process since start (or {@link resetMessageLaneCounters}): what a
 * diagnostics page shows next to core's `ingressCounters()`.
 *
 * @example
 * messageLaneCounters().fellBack.gray; // gray messages stable consumers handled
 */
export function messageLaneCounters(): MessageLaneCounters {
  return {
    consumed: record(consumed),
    fellBack: record(fellBack),
    routed: record(routed),
    invalidTags: record(invalidTags),
  };
}

/**
 * Zeroes the message counters (tests, or an operator's reset button).
 *
 * @example
 * resetMessageLaneCounters();
 */
export function resetMessageLaneCounters(): void {
  consumed.clear();
  fellBack.clear();
  routed.clear();
  invalidTags.clear();
}
