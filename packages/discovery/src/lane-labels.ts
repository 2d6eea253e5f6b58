import {
  COMPILED_DEFAULT_LANE_LABELS,
  compileLaneLabels,
  DEFAULT_LANE_LABELS,
  matchLaneLabel,
} from '@graylane/core';
import type { Instance } from './instance';

// The lane-label conventions live in core since the instance lane (core) reads them too; discovery
// re-exports them unchanged from its index.
export type { CompiledLaneLabels, LaneLabelMatch } from '@graylane/core';
export {
  compileLaneLabels,
  DEFAULT_LANE_LABELS,
  laneLabelFor,
  matchLaneLabel,
  UNCONFIGURED_LANE_LABEL_WARNING,
  unconfiguredLaneLabel,
} from '@graylane/core';

/**
 * The value of the first present label among `laneLabels`, or `undefined` when the instance has
 * none (a base instance). The value is returned as found: check it with `isLane()` from
 * `@graylane/core` (discovery excludes instances whose lane label is not a valid lane).
 *
 * @param laneLabels Default {@link DEFAULT_LANE_LABELS}.
 * @example
 * laneOf({ ...instance, labels: { 'opensergo.io/canary-gray': 'gray' } }); // 'gray'
 * laneOf({ ...instance, labels: { version: 'v2' } }, ['version']);          // 'v2'
 */
export function laneOf(
  instance: Pick<Instance, 'labels'>,
  laneLabels: readonly string[] = DEFAULT_LANE_LABELS,
): string | undefined {
  const compiled =
    laneLabels === DEFAULT_LANE_LABELS ? COMPILED_DEFAULT_LANE_LABELS : compileLaneLabels(laneLabels);
  return matchLaneLabel(instance.labels, compiled)?.value;
}
