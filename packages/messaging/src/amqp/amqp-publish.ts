import { currentLane, LANE_HEADER } from '@graylane/core';
import type { Options } from 'amqplib';

/**
 * Publish options carrying the current lane in the AMQP `headers` table (`x-mse-tag`), for
 * `channel.publish()` / `channel.sendToQueue()`. The current lane is the request's lane, else the
 * instance lane while core's `enableInstanceLane()` is on. A message that already has a tag keeps
 * it; no lane, no header (the options are returned as given).
 *
 * @param header Default `x-mse-tag`.
 * @example
 * channel.sendToQueue('orders', body, lanePublishOptions({ persistent: true }));
 */
export function lanePublishOptions(options?: Options.Publish, header: string = LANE_HEADER): Options.Publish {
  const lane = currentLane();
  if (lane === undefined) return options ?? {};
  const headers = options?.headers as Record<string, unknown> | undefined;
  if (headers !== undefined && headers[header] !== undefined) return options as Options.Publish;
  return { ...options, headers: { ...headers, [header]: lane } };
}
