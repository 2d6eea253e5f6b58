import type { Lane } from '@graylane/core';

/**
 * The subject lane messages are moved to: `<prefix>.lane.<lane>` (captured by the lane stream).
 *
 * @example
 * laneSubject('graylane.orders', 'gray'); // 'graylane.orders.lane.gray'
 */
export function laneSubject(prefix: string, lane: Lane): string {
  return `${prefix}.lane.${lane}`;
}

/** Every lane's subject, `<prefix>.lane.>`: what a lane stream captures. @internal */
export function allLaneSubjects(prefix: string): string {
  return `${prefix}.lane.>`;
}

/**
 * The core-NATS subject a lane consumer answers on while it lives: `<prefix>.live.<lane>`. Base
 * consumers send a request there; "no responders" from the server means no live consumer.
 *
 * @example
 * presenceSubject('graylane.orders', 'gray'); // 'graylane.orders.live.gray'
 */
export function presenceSubject(prefix: string, lane: Lane): string {
  return `${prefix}.live.${lane}`;
}

/** Every lane's presence subject, `<prefix>.live.*`: what no stream may capture. @internal */
export function allPresenceSubjects(prefix: string): string {
  return `${prefix}.live.*`;
}

/**
 * The durable consumer of a lane on the lane stream: `<durable>-L-<lane>` with `_` and `.` escaped
 * (`_5F`, `_2E`), since durable names allow neither `.` nor ambiguity.
 *
 * @example
 * laneDurableName('fulfillment', 'gray.v2'); // 'fulfillment-L-gray_2Ev2'
 */
export function laneDurableName(durable: string, lane: Lane): string {
  return `${durable}-L-${lane.replace(/[._]/g, (c) => (c === '.' ? '_2E' : '_5F'))}`;
}

/** The lane of a durable made by {@link laneDurableName}, or `undefined`. */
export function laneOfDurable(durable: string, name: string): Lane | undefined {
  const prefix = `${durable}-L-`;
  if (!name.startsWith(prefix)) return undefined;
  return name.slice(prefix.length).replace(/_2E|_5F/g, (e) => (e === '_2E' ? '.' : '_'));
}
