// The setup every broker's `consumeLanes` shares: option checks and a start that undoes itself on
// failure. Broker code (and its client library) stays in each subpath.
import { InvalidOptionError, type Lane, parseLane } from '@graylane/core';
import type { LaneConsumerOptions } from '../lane-consumer';
import { type CompiledLaneRouting, compileLaneRouting } from '../lane-routing-options';

/** The validated options shared by every broker. */
export interface CompiledLaneConsumerOptions {
  readonly lanes: readonly Lane[];
  readonly routing: CompiledLaneRouting;
}

/** Throws `GL_ERR_INVALID_OPTION` unless `options` is an object (`expected` names its keys). */
export function checkOptionsObject(options: unknown, expected: string): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', `expected ${expected}`);
}

/** Validates the routing options and `lanes`; throws `GL_ERR_INVALID_OPTION`. */
export function compileLaneConsumerOptions(options: LaneConsumerOptions): CompiledLaneConsumerOptions {
  const routing = compileLaneRouting(options);
  const lanes = options.lanes ?? [];
  if (!Array.isArray(lanes)) throw new InvalidOptionError('lanes', 'expected an array of lanes');
  lanes.forEach((lane: unknown, i) => {
    if (parseLane(lane) === undefined) throw new InvalidOptionError(`lanes[${i}]`, 'expected a lane');
  });
  return { lanes: Object.freeze([...lanes]), routing };
}

/** `value` when it is an integer in `[min, max]`; else throws `GL_ERR_INVALID_OPTION` naming `path`. */
export function integerOption(value: unknown, path: string, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new InvalidOptionError(path, `expected an integer from ${min} to ${max}`);
  }
  return value as number;
}

/** Throws `GL_ERR_INVALID_OPTION` naming `path` unless `handler` is a function. */
export function checkHandler(handler: unknown, path: string): void {
  if (typeof handler !== 'function') throw new InvalidOptionError(path, 'expected a function');
}

/**
 * Starts `consumer`; when starting fails, runs `undo` (default: the consumer's own `close()`),
 * ignoring its failure, and rejects with the start error.
 */
export async function startLaneConsumer<C extends { start(): Promise<void>; close(): Promise<void> }>(
  consumer: C,
  undo: () => Promise<unknown> = () => consumer.close(),
): Promise<C> {
  try {
    await consumer.start();
  } catch (error) {
    await undo().catch(() => undefined);
    throw error;
  }
  return consumer;
}
