import { InvalidOptionError } from './errors';

/**
 * Instance labels that name an instance's lane, in precedence order: the first one present wins.
 * An entry ending in `*` is a key prefix whose value is the lane (`opensergo.io/canary-*` matches
 * `opensergo.io/canary-gray: gray`).
 *
 * | label | convention |
 * |---|---|
 * | `alicloud.service.tag` | Alibaba MSE |
 * | `traffic.opensergo.io/label` | OpenSergo workload label |
 * | `ASM_TRAFFIC_TAG` | Alibaba Service Mesh lanes |
 * | `opensergo.io/canary-*` | OpenKruise full-link gray example (`opensergo.io/canary-gray: gray`) |
 */
export const DEFAULT_LANE_LABELS: readonly string[] = Object.freeze([
  'alicloud.service.tag',
  'traffic.opensergo.io/label',
  'ASM_TRAFFIC_TAG',
  'opensergo.io/canary-*',
]);

/** A lane label found on an instance: which key matched and its raw (possibly invalid) value. */
export interface LaneLabelMatch {
  readonly key: string;
  readonly value: string;
}

/** A validated `laneLabels` list, ready for matching. Internal shape; build with {@link compileLaneLabels}. */
export interface CompiledLaneLabels {
  readonly source: readonly string[];
  readonly entries: ReadonlyArray<{ readonly key: string; readonly prefix: boolean }>;
}

/**
 * {@link DEFAULT_LANE_LABELS}, compiled once.
 *
 * @example
 * matchLaneLabel(podLabels, COMPILED_DEFAULT_LANE_LABELS)?.value;
 */
export const COMPILED_DEFAULT_LANE_LABELS: CompiledLaneLabels = compileLaneLabels(DEFAULT_LANE_LABELS);

/**
 * Validates a `laneLabels` list once (setup time).
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for an empty list, a non-string or empty
 *   entry, or a `*` anywhere but at the end.
 * @example
 * compileLaneLabels(['version', 'opensergo.io/canary-*']);
 */
export function compileLaneLabels(laneLabels: readonly string[], path = 'laneLabels'): CompiledLaneLabels {
  if (!Array.isArray(laneLabels) || laneLabels.length === 0) {
    throw new InvalidOptionError(path, 'expected a non-empty array of label keys');
  }
  const entries = laneLabels.map((entry: unknown, i) => {
    if (typeof entry !== 'string' || entry.length === 0 || entry === '*') {
      throw new InvalidOptionError(`${path}[${i}]`, 'expected a label key, or a key prefix ending in *');
    }
    const star = entry.indexOf('*');
    if (star !== -1 && star !== entry.length - 1) {
      throw new InvalidOptionError(`${path}[${i}]`, '* is only allowed at the end (a key prefix)');
    }
    return Object.freeze({ key: star === -1 ? entry : entry.slice(0, -1), prefix: star !== -1 });
  });
  return Object.freeze({ source: Object.freeze([...laneLabels]), entries: Object.freeze(entries) });
}

/**
 * Finds the lane label of a label set: the first entry of `compiled` that is present. For a prefix
 * entry, the smallest matching key wins (deterministic whatever the key order).
 *
 * @example
 * matchLaneLabel({ 'opensergo.io/canary-gray': 'gray' }, COMPILED_DEFAULT_LANE_LABELS);
 * // { key: 'opensergo.io/canary-gray', value: 'gray' }
 */
export function matchLaneLabel(
  labels: Readonly<Record<string, string>>,
  compiled: CompiledLaneLabels,
): LaneLabelMatch | undefined {
  for (const entry of compiled.entries) {
    if (!entry.prefix) {
      if (Object.hasOwn(labels, entry.key)) return { key: entry.key, value: labels[entry.key]! };
      continue;
    }
    let best: string | undefined;
    for (const key in labels) {
      if (key.length > entry.key.length && key.startsWith(entry.key) && (best === undefined || key < best)) {
        best = key;
      }
    }
    if (best !== undefined) return { key: best, value: labels[best]! };
  }
  return undefined;
}

/**
 * The label that carries `lane` when graylane writes it (self-registration): the first entry of
 * `laneLabels`, with a prefix entry expanded to `<prefix><lane>`.
 *
 * @param compiled Default {@link COMPILED_DEFAULT_LANE_LABELS}.
 * @example
 * laneLabelFor('gray'); // 'alicloud.service.tag'
 */
export function laneLabelFor(
  lane: string,
  compiled: CompiledLaneLabels = COMPILED_DEFAULT_LANE_LABELS,
): string {
  const first = compiled.entries[0]!;
  return first.prefix ? `${first.key}${lane}` : first.key;
}
