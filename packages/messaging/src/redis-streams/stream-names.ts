import type { Lane } from '@graylane/core';

/**
 * The stream a lane's entries are moved to (and its consumers read): `<stream>~<lane>`. In Redis
 * Cluster, put the stream name in a hash tag (`{orders}`) so every key of the group shares a slot.
 *
 * @example
 * laneStreamName('orders', 'gray'); // 'orders~gray'
 */
export function laneStreamName(stream: string, lane: Lane): string {
  return `${stream}~${lane}`;
}

/**
 * The sorted set of live lane consumers of a stream (`<stream>~live`): member `<lane> <consumer>`,
 * score = expiry in the Redis server's clock (ms). Lane consumers refresh their member every
 * `livenessIntervalMs`; base consumers read it.
 *
 * @example
 * presenceKey('orders'); // 'orders~live'
 */
export function presenceKey(stream: string): string {
  return `${stream}~live`;
}

/**
 * The set of lanes that ever had a consumer or a routed entry on a stream (`<stream>~lanes`), so
 * a base consumer that starts later still drains their streams.
 *
 * @example
 * lanesKey('orders'); // 'orders~lanes'
 */
export function lanesKey(stream: string): string {
  return `${stream}~lanes`;
}
