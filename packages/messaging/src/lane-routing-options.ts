import { InvalidOptionError, instanceLane, LANE_HEADER, type Lane, parseLane } from '@graylane/core';

/** Default {@link LaneRoutingOptions.livenessIntervalMs}: how often a base consumer re-reads which lanes have live consumers. */
export const DEFAULT_LIVENESS_INTERVAL_MS = 1000;

/**
 * How a consumer takes part in a consumer group shared by several lanes; the same in every broker
 * subpath. Mirrors discovery's `fallback` and `strict`.
 */
export interface LaneRoutingOptions {
  /**
   * The lane this consumer serves: it receives only that lane's messages. `null` = the base
   * consumer (base messages, plus lanes that have no live consumer unless strict). Default: the
   * instance lane (core's `instanceLane()`: `GRAYLANE_LANE`, the downward-API labels file, or
   * `setInstanceLane()`), so a gray instance's consumer is a gray consumer.
   */
  readonly lane?: string | null | undefined;
  /**
   * Lanes whose messages wait for their own consumer instead of falling back to base (`true`:
   * every lane). Read by base consumers. Default `false` (permissive, Sermant's AUTO mode).
   */
  readonly strict?: boolean | readonly string[] | undefined;
  /**
   * Fallback chain per lane, as in discovery: `{ 'feature-x': 'gray' }` sends feature-x messages to
   * the gray consumers while no feature-x consumer lives (still tagged feature-x); after the chain
   * comes base unless strict. A cycle is a setup error. Default `{}`.
   */
  readonly fallback?: Readonly<Record<string, string>> | undefined;
  /** How often a base consumer re-reads lane liveness, in ms (≥ 50). Default {@link DEFAULT_LIVENESS_INTERVAL_MS}. */
  readonly livenessIntervalMs?: number | undefined;
  /** The tag field (header, stream-entry field). Default `x-mse-tag`. */
  readonly header?: string | undefined;
}

/** Validated {@link LaneRoutingOptions}. */
export interface CompiledLaneRouting {
  /** This consumer's lane; `undefined` = base consumer. */
  readonly lane: Lane | undefined;
  readonly header: string;
  readonly livenessIntervalMs: number;
  /** Lanes to try, in order, for a message of `lane` (the lane itself first). */
  chain(lane: Lane): readonly Lane[];
  strict(lane: Lane): boolean;
}

/**
 * Validates routing options once, at setup.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for a bad option, including a fallback cycle.
 * @example
 * compileLaneRouting({ lane: null, strict: ['payments-v2'] });
 */
export function compileLaneRouting(options: LaneRoutingOptions): CompiledLaneRouting {
  let lane: Lane | undefined;
  if (options.lane === undefined) lane = instanceLane();
  else if (options.lane === null) lane = undefined;
  else if (parseLane(options.lane) === undefined)
    throw new InvalidOptionError('lane', 'expected a lane or null');
  else lane = options.lane;

  const header = options.header ?? LANE_HEADER;
  if (typeof header !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/.test(header)) {
    throw new InvalidOptionError('header', 'expected a header name');
  }
  const livenessIntervalMs = options.livenessIntervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS;
  if (!Number.isInteger(livenessIntervalMs) || livenessIntervalMs < 50 || livenessIntervalMs > 3_600_000) {
    throw new InvalidOptionError('livenessIntervalMs', 'expected an integer from 50 to 3600000');
  }

  const strictOption = options.strict ?? false;
  let strictAll = false;
  const strictLanes = new Set<string>();
  if (typeof strictOption === 'boolean') strictAll = strictOption;
  else if (Array.isArray(strictOption)) {
    strictOption.forEach((l: unknown, i) => {
      if (parseLane(l) === undefined) throw new InvalidOptionError(`strict[${i}]`, 'expected a lane');
      strictLanes.add(l as string);
    });
  } else throw new InvalidOptionError('strict', 'expected a boolean or an array of lanes');

  const fallback = options.fallback ?? {};
  if (typeof fallback !== 'object' || fallback === null || Array.isArray(fallback)) {
    throw new InvalidOptionError('fallback', 'expected an object { lane: fallbackLane }');
  }
  const next = new Map<string, string>();
  for (const [from, to] of Object.entries(fallback)) {
    if (parseLane(from) === undefined)
      throw new InvalidOptionError(`fallback.${from}`, 'the key is not a lane');
    if (parseLane(to) === undefined) throw new InvalidOptionError(`fallback.${from}`, 'expected a lane');
    next.set(from, to);
  }
  const chains = new Map<string, readonly Lane[]>();
  for (const from of next.keys()) {
    const chain = [from];
    for (let to = next.get(from); to !== undefined; to = next.get(to)) {
      if (chain.includes(to)) throw new InvalidOptionError(`fallback.${from}`, `cycle through ${to}`);
      chain.push(to);
    }
    chains.set(from, Object.freeze(chain));
  }
  const single = new Map<string, readonly Lane[]>();
  return Object.freeze({
    lane,
    header,
    livenessIntervalMs,
    chain(l: Lane): readonly Lane[] {
      const known = chains.get(l) ?? single.get(l);
      if (known !== undefined) return known;
      const own = Object.freeze([l]);
      if (single.size < 1024) single.set(l, own);
      return own;
    },
    strict(l: Lane): boolean {
      return strictAll || strictLanes.has(l);
    },
  });
}
