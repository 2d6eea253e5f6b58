import { laneContextFor, setOutsideContext } from './context';
import { DEFAULT_LABELS_FILE, readDownwardLabels } from './downward-labels';
import { InvalidLaneError, InvalidOptionError } from './errors';
import { type Lane, parseLane } from './lane';
import {
  COMPILED_DEFAULT_LANE_LABELS,
  compileLaneLabels,
  DEFAULT_LANE_LABELS,
  matchLaneLabel,
} from './lane-labels';
import { assertKnownOptions } from './options';

/** Environment variable holding the lane of this process's instance. */
export const DEFAULT_LANE_ENV = 'GRAYLANE_LANE';

/** Where {@link readInstanceLane} looks for the instance lane. Every field is optional. */
export interface InstanceLaneOptions {
  /**
   * The lane, set in code; `null` = base (skips every other source). When omitted: the lane set
   * with {@link setInstanceLane}, else `$GRAYLANE_LANE`, else the downward-API labels file, else base.
   */
  readonly lane?: string | null | undefined;
  /** Lane labels read from the labels file, in precedence order. Default `DEFAULT_LANE_LABELS`. */
  readonly laneLabels?: readonly string[] | undefined;
  /** Downward-API labels file; `false` to skip. Default `/etc/podinfo/labels`. */
  readonly labelsFile?: string | false | undefined;
  /** Environment to read `GRAYLANE_LANE` from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

const INSTANCE_LANE_OPTION_KEYS: readonly string[] = Object.keys({
  lane: 1,
  laneLabels: 1,
  labelsFile: 1,
  env: 1,
} satisfies Record<keyof InstanceLaneOptions, 1>);

/** What {@link enableInstanceLane} returns. */
export interface InstanceLaneHandle {
  /** The instance lane work outside any request now runs in; `undefined` = base. */
  readonly lane: Lane | undefined;
  /** Turns the switch off again: work outside any request runs in the base lane. Idempotent. */
  disable(): void;
}

// `undefined`: never set in code; `null`: set to base in code.
let explicitLane: Lane | null | undefined;
let cachedLane: { readonly lane: Lane | undefined } | undefined;
let enabled = false;

/**
 * Reads which lane this instance serves — the one source of truth that `register()` (discovery)
 * and {@link enableInstanceLane} share. Precedence: `options.lane`, else the lane set with
 * {@link setInstanceLane}, else `$GRAYLANE_LANE`, else the first lane label in the Kubernetes
 * downward-API labels file, else base (`undefined`). Reads the file on every call: use
 * {@link instanceLane} for the cached value.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` when the lane from any source is not a
 *   valid lane (the path names the source: `lane`, `GRAYLANE_LANE`, `<file>: <label>`).
 * @example
 * // GRAYLANE_LANE=gray node server.js
 * readInstanceLane(); // 'gray'
 */
export function readInstanceLane(options: InstanceLaneOptions = {}): Lane | undefined {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { lane?, laneLabels?, labelsFile?, env? }');
  }
  assertKnownOptions('readInstanceLane()', options, INSTANCE_LANE_OPTION_KEYS);
  if (options.lane === null) return undefined;
  if (options.lane !== undefined) return checked(options.lane, 'lane');
  if (explicitLane !== undefined) return explicitLane ?? undefined;
  const env = options.env ?? process.env;
  const fromEnv = nonEmpty(env[DEFAULT_LANE_ENV]);
  if (fromEnv !== undefined) return checked(fromEnv, DEFAULT_LANE_ENV);
  if (options.labelsFile === false) return undefined;
  const file = options.labelsFile ?? DEFAULT_LABELS_FILE;
  const podLabels = readDownwardLabels(file);
  if (podLabels === undefined) return undefined;
  const compiled =
    options.laneLabels === undefined || options.laneLabels === DEFAULT_LANE_LABELS
      ? COMPILED_DEFAULT_LANE_LABELS
      : compileLaneLabels(options.laneLabels);
  const match = matchLaneLabel(podLabels, compiled);
  return match === undefined ? undefined : checked(match.value, `${file}: ${match.key}`);
}

/**
 * The lane this instance serves, read once with the defaults of {@link readInstanceLane} and
 * cached; {@link setInstanceLane} replaces it. `undefined` = base. Never throws: an invalid lane
 * in the environment or labels file counts as base here (`readInstanceLane()` and `register()`
 * report it as an error).
 *
 * @example
 * if (instanceLane() === 'gray') console.log('gray instance');
 */
export function instanceLane(): Lane | undefined {
  if (explicitLane !== undefined) return explicitLane ?? undefined;
  if (cachedLane === undefined) {
    let lane: Lane | undefined;
    try {
      lane = readInstanceLane();
    } catch {
      lane = undefined;
    }
    cachedLane = { lane };
  }
  return cachedLane.lane;
}

/**
 * Sets the instance lane in code (`null` = base, `undefined` = forget it and read the environment
 * again). Wins over `$GRAYLANE_LANE` and the labels file, for {@link instanceLane},
 * {@link readInstanceLane} and `register()` alike; applies at once while {@link enableInstanceLane}
 * is on.
 *
 * @throws {InvalidLaneError} `GL_ERR_INVALID_LANE` when `lane` is not a valid lane tag.
 * @example
 * setInstanceLane('gray');
 */
export function setInstanceLane(lane: string | null | undefined): void {
  if (typeof lane === 'string' && parseLane(lane) === undefined) throw new InvalidLaneError(lane);
  if (lane !== null && lane !== undefined && typeof lane !== 'string') throw new InvalidLaneError(lane);
  explicitLane = lane;
  cachedLane = undefined;
  if (enabled) setOutsideContext(outsideContextFor(instanceLane()));
}

/**
 * The opt-in switch for "traffic that a gray instance originates" (MSE, Nepxion): once on, work
 * that runs outside any request — startup calls, timers and intervals set at startup, cron-like
 * jobs, untagged messages a consumer handles — runs in the instance lane, so a gray instance's own
 * calls reach gray downstream instances and a stable instance's reach stable ones. Inside a
 * request the request's lane always wins, an untagged request stays untagged, and
 * `withLane(null, fn)` still forces the base lane. Off by default; with it off, nothing changes
 * and `currentLane()` costs what it did.
 *
 * @param options Where to read the lane (see {@link readInstanceLane}); default: {@link instanceLane}.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` when the lane read is not a valid lane.
 * @example
 * // GRAYLANE_LANE=gray node worker.js
 * enableInstanceLane();
 * setInterval(() => fetch('http://inventory/sync'), 60_000); // x-mse-tag: gray
 */
export function enableInstanceLane(options?: InstanceLaneOptions): InstanceLaneHandle {
  assertKnownOptions('enableInstanceLane()', options, INSTANCE_LANE_OPTION_KEYS);
  if (options !== undefined) {
    explicitLane = readInstanceLane(options) ?? null;
    cachedLane = undefined;
  } else if (explicitLane === undefined && cachedLane === undefined) {
    const lane = readInstanceLane(); // throws on an invalid lane: the switch is a setup call
    cachedLane = { lane };
  }
  const lane = instanceLane();
  enabled = true;
  setOutsideContext(outsideContextFor(lane));
  return { lane, disable: disableInstanceLane };
}

/**
 * The lane work outside any request runs in: the instance lane while {@link enableInstanceLane}
 * is on, else `undefined` (base). Message consumers run untagged messages in it.
 *
 * @example
 * withLane(backgroundLane(), () => handle(message));
 */
export function backgroundLane(): Lane | undefined {
  return enabled ? instanceLane() : undefined;
}

function disableInstanceLane(): void {
  enabled = false;
  setOutsideContext(null);
}

function outsideContextFor(lane: Lane | undefined): ReturnType<typeof laneContextFor> | null {
  return lane === undefined ? null : laneContextFor(lane);
}

function checked(lane: unknown, path: string): string {
  if (parseLane(lane) === undefined) {
    throw new InvalidOptionError(path, `${JSON.stringify(lane)} is not a lane (a Kubernetes label value)`);
  }
  return lane as string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim().length === 0 ? undefined : value.trim();
}
