import type { Lane } from '@graylane/core';
import type { Options } from 'amqplib';

/**
 * The queue a lane's messages are moved to (and its consumers read): `<queue>~<lane>`. `~` is not
 * in the lane grammar, so names never collide.
 *
 * @example
 * laneQueueName('orders', 'gray'); // 'orders~gray'
 */
export function laneQueueName(queue: string, lane: Lane): string {
  return `${queue}~${lane}`;
}

/**
 * The presence queue of a lane: `<queue>~<lane>~live`. It never holds messages; every live lane
 * consumer consumes it, so its consumer count (from the broker) is the lane's liveness.
 *
 * @example
 * presenceQueueName('orders', 'gray'); // 'orders~gray~live'
 */
export function presenceQueueName(queue: string, lane: Lane): string {
  return `${queue}~${lane}~live`;
}

/** Presence queues: not durable (liveness is about now), removed after a day nobody declared or consumed them. */
export const PRESENCE_QUEUE_OPTIONS: Options.AssertQueue = Object.freeze({
  durable: false,
  autoDelete: false,
  arguments: Object.freeze({ 'x-expires': 86_400_000 }),
});

/**
 * Header of the announcement a lane consumer sends through the work queue when it starts, so base
 * consumers learn its lane at once (they ack it without calling the handler).
 */
export const ANNOUNCE_HEADER = 'x-graylane-announce';
