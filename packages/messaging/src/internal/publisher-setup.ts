import type { Lane } from '@graylane/core';
import type { LanePublisherOptions } from '../lane-publisher';
import { compileLaneConsumerOptions } from './consumer-setup';

/** Validated {@link LanePublisherOptions}. */
export interface CompiledLanePublisherOptions {
  readonly header: string;
  readonly livenessIntervalMs: number;
  readonly lanes: readonly Lane[];
}

/** Validates what every publisher takes, with the same checks (and errors) as `consumeLanes`. */
export function compileLanePublisherOptions(options: LanePublisherOptions): CompiledLanePublisherOptions {
  const { lanes, routing } = compileLaneConsumerOptions({
    lane: null,
    lanes: options.lanes,
    header: options.header,
    livenessIntervalMs: options.livenessIntervalMs,
  });
  return { header: routing.header, livenessIntervalMs: routing.livenessIntervalMs, lanes };
}
