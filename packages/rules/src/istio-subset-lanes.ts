import { assertKnownOptions, type Lane, parseLane } from '@graylane/core';
import { InvalidImportError } from './errors';
import { list, optionalString, record } from './import-util';
import { describeValue, isRecord } from './validate';

const SOURCE = 'Istio';

/** Options of {@link subsetLanesFromDestinationRule}. */
export interface SubsetLanesOptions {
  /**
   * Labels that name a lane, first present wins; an entry ending in `*` is a key prefix whose value
   * is the lane (`opensergo.io/canary-*`). Default: the same list as `@graylane/discovery`:
   * `alicloud.service.tag`, `traffic.opensergo.io/label`, `ASM_TRAFFIC_TAG`, `opensergo.io/canary-*`.
   */
  readonly laneLabels?: readonly string[] | undefined;
}

const SUBSET_LANES_OPTION_KEYS: readonly string[] = Object.keys({
  laneLabels: 1,
} satisfies Record<keyof SubsetLanesOptions, 1>);

const DEFAULT_LANE_LABELS = [
  'alicloud.service.tag',
  'traffic.opensergo.io/label',
  'ASM_TRAFFIC_TAG',
  'opensergo.io/canary-*',
];

/**
 * The `subsetLanes` map of a `DestinationRule` (the object or its `spec`; or several): each subset's
 * lane is the value of its first lane label; a subset without one is the base lane (`null`).
 *
 * @throws {InvalidImportError} `GL_ERR_INVALID_IMPORT` for a lane label whose value is not a lane.
 * @example
 * subsetLanesFromDestinationRule({ spec: { subsets: [
 *   { name: 'v1', labels: { version: 'v1' } },
 *   { name: 'v2', labels: { version: 'v2', 'alicloud.service.tag': 'gray' } },
 * ] } }); // { v1: null, v2: 'gray' }
 * subsetLanesFromDestinationRule(dr, { laneLabels: ['version'] }); // { v1: 'v1', v2: 'v2' }
 */
export function subsetLanesFromDestinationRule(
  destinationRule: Readonly<Record<string, unknown>> | readonly Readonly<Record<string, unknown>>[],
  options: SubsetLanesOptions = {},
): Record<string, Lane | null> {
  assertKnownOptions('subsetLanesFromDestinationRule()', options, SUBSET_LANES_OPTION_KEYS);
  const laneLabels = options.laneLabels ?? DEFAULT_LANE_LABELS;
  list(SOURCE, laneLabels, 'options.laneLabels').forEach((label, i) => {
    if (typeof label !== 'string' || label.length === 0 || label === '*') {
      throw new InvalidImportError(
        SOURCE,
        `options.laneLabels[${i}]`,
        'expected a label key, or a key prefix ending in *',
      );
    }
  });
  const rules = Array.isArray(destinationRule) ? destinationRule : [destinationRule];
  const out: Record<string, Lane | null> = {};
  rules.forEach((dr: unknown, d: number) => {
    const root = record(
      SOURCE,
      dr,
      Array.isArray(destinationRule) ? `destinationRules[${d}]` : 'destinationRule',
    );
    const spec = isRecord(root.spec) ? root.spec : root;
    const at = isRecord(root.spec) ? 'spec' : 'destinationRule';
    const subsets =
      spec.subsets === undefined || spec.subsets === null ? [] : list(SOURCE, spec.subsets, `${at}.subsets`);
    subsets.forEach((raw, i) => {
      const subset = record(SOURCE, raw, `${at}.subsets[${i}]`);
      const name = optionalString(SOURCE, subset.name, `${at}.subsets[${i}].name`);
      if (name === undefined)
        throw new InvalidImportError(SOURCE, `${at}.subsets[${i}].name`, 'a subset needs a name');
      const labels =
        subset.labels === undefined || subset.labels === null
          ? {}
          : record(SOURCE, subset.labels, `${at}.subsets[${i}].labels`);
      const found = findLaneLabel(labels, laneLabels);
      if (found === undefined) {
        out[name] = null;
        return;
      }
      const lane = parseLane(found.value);
      if (lane === undefined) {
        throw new InvalidImportError(
          SOURCE,
          `${at}.subsets[${i}].labels.${found.key}`,
          `${describeValue(found.value)} is not a lane`,
        );
      }
      out[name] = lane;
    });
  });
  return out;
}

function findLaneLabel(
  labels: Readonly<Record<string, unknown>>,
  laneLabels: readonly string[],
): { key: string; value: unknown } | undefined {
  for (const entry of laneLabels) {
    if (!entry.endsWith('*')) {
      if (Object.hasOwn(labels, entry)) return { key: entry, value: labels[entry] };
      continue;
    }
    const prefix = entry.slice(0, -1);
    const keys = Object.keys(labels)
      .filter((k) => k.length > prefix.length && k.startsWith(prefix))
      .sort();
    if (keys.length > 0) return { key: keys[0]!, value: labels[keys[0]!] };
  }
  return undefined;
}
