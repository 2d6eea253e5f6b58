// Everything discovery knows about one service: the last good instance set, its lane buckets and
// the resolved route of every lane. Rebuilt on each registry update; read by pick().
import { OTHER_LANES, parseLane } from '@graylane/core';
import type { Instance } from '../instance';
import {
  type CompiledLaneLabels,
  matchLaneLabel,
  UNCONFIGURED_LANE_LABEL_WARNING,
  unconfiguredLaneLabel,
} from '../lane-labels';
import type { CallOutcome, OutlierConfig } from '../outlier-detection';
import type { WarmupConfig } from '../warmup';
import { type BalancerCode, Bucket } from './bucket';
import { Outliers } from './outliers';
import { Warming } from './warming';

/** Routing configuration shared by every service of one discovery (validated at setup). */
export interface RoutingConfig {
  readonly balancer: BalancerCode;
  readonly labels: CompiledLaneLabels;
  readonly fallback: ReadonlyMap<string, string>;
  readonly strictAll: boolean;
  readonly strictLanes: ReadonlySet<string>;
  /** Most lanes given a route of their own per service; later unknown lanes share `(other)`. */
  readonly maxRoutes: number;
  /** Passive outlier ejection; `null` when off. */
  readonly outlier: OutlierConfig | null;
  /** Warm-up of instances that become pickable; `null` when off. */
  readonly warmup: WarmupConfig | null;
}

/** Why a lane is served by a fallback. */
export type FallbackReason = 'no-instance' | 'unhealthy' | 'ejected' | 'unreachable';

/** Picks that went from a requested lane to a served lane (`undefined` = base). Persistent. */
export interface FlowCounter {
  readonly from: string | undefined;
  readonly to: string | undefined;
  /** For fallbacks: why (a flow per reason). */
  readonly reason: FallbackReason | undefined;
  count: number;
}

/** Where one requested lane goes right now. Routes persist; rebuilds re-resolve them. */
export interface Route {
  /** Requested lane: `undefined` for base, `(other)` for the shared overflow route. */
  readonly lane: string | undefined;
  bucket: Bucket | null;
  flow: FlowCounter | null;
  fallback: boolean;
  /** Picks that found no instance. */
  misses: number;
  /** Why nothing serves this lane (when `bucket` is null). */
  detail: string;
  /** Why the lane falls back, when it does: its instances are ejected, unhealthy, or there are none. */
  reason: FallbackReason | undefined;
  /** `choose()` results of this route, one per pickable index of `bucket`; dropped when `bucket` changes. */
  choices: Array<RouteChoice | undefined> | null;
}

/**
 * One selection of `choose()`: the instance, and where to count it (the route, its bucket and
 * the instance's index there, as they were when chosen). Immutable; made once per (route, index)
 * and reused, so choosing allocates nothing once a route has been seen.
 */
export class RouteChoice {
  readonly service: string;
  /** The requested lane (`undefined` = base). */
  readonly lane: string | undefined;
  readonly instance: Instance;
  readonly state: ServiceState;
  readonly route: Route;
  readonly bucket: Bucket;
  readonly flow: FlowCounter;
  readonly fallback: boolean;
  readonly reason: FallbackReason | undefined;
  readonly index: number;

  constructor(
    state: ServiceState,
    route: Route,
    bucket: Bucket,
    index: number,
    flow: FlowCounter = route.flow!,
    reason: FallbackReason | undefined = route.reason,
  ) {
    this.service = state.service;
    this.lane = route.lane;
    this.instance = bucket.pickable[index]!;
    this.state = state;
    this.route = route;
    this.bucket = bucket;
    this.flow = flow;
    this.fallback = flow.from !== flow.to;
    this.reason = reason;
    this.index = index;
  }
}

/** An instance left out of every bucket because its lane label is not a valid lane. */
export interface InvalidLaneInstance {
  readonly instance: Instance;
  readonly label: string;
  readonly value: string;
}

const NO_INSTANCES: readonly Instance[] = Object.freeze([]);

function newRoute(lane: string | undefined): Route {
  return {
    lane,
    bucket: null,
    flow: null,
    fallback: false,
    misses: 0,
    detail: '',
    reason: undefined,
    choices: null,
  };
}

export class ServiceState {
  readonly service: string;
  readonly #config: RoutingConfig;
  loaded = false;
  instances: readonly Instance[] = NO_INSTANCES;
  updatedAt = 0;
  #lastError: { readonly error: Error; readonly at: number } | null = null;
  /** The most recent failure, kept after recovery for diagnostics. */
  lastFailure: { readonly error: Error; readonly at: number; recoveredAt: number | null } | null = null;
  /** Failures reported for this service since it was first tracked. */
  failures = 0;
  /** The first failure since the last good set (ms), or null while the registry delivers. */
  staleSince: number | null = null;
  base: Bucket;
  buckets = new Map<string, Bucket>();
  invalid: readonly InvalidLaneInstance[] = [];
  /** Where each pickable instance sits (by id), for report() and snapshots. */
  positions = new Map<string, { readonly bucket: Bucket; readonly index: number }>();
  /** Picks of each instance (by id) in buckets since replaced. */
  readonly pickHistory = new Map<string, number>();
  readonly routes = new Map<string, Route>();
  readonly baseRoute: Route = newRoute(undefined);
  readonly otherRoute: Route = newRoute(OTHER_LANES);
  readonly flows = new Map<string, FlowCounter>();
  /** Picks asked for a value that is not a lane; served as base. */
  invalidLanePicks = 0;
  unsubscribe: (() => void) | null = null;
  readonly watchers = new Set<(instances: readonly Instance[]) => void>();
  /** Passive outlier ejection; `null` when off. */
  readonly outliers: Outliers | null;
  /** Warm-up of newly pickable instances; `null` when off. */
  readonly warming: Warming | null;
  readonly waiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();

  /** Instances already warned about a label that looks like an unconfigured lane label. */
  readonly #warned = new Set<string>();

  /** The lane labels this discovery reads (for snapshots). */
  get laneLabels(): CompiledLaneLabels {
    return this.#config.labels;
  }

  constructor(service: string, config: RoutingConfig) {
    this.service = service;
    this.#config = config;
    this.outliers =
      config.outlier === null
        ? null
        : new Outliers(config.outlier, {
            service,
            eligibleIn: (lane) => (lane === undefined ? this.base : this.buckets.get(lane))?.eligible ?? 0,
            rebuild: () => this.#build(),
            returned: (id) => {
              if (this.warming?.config.afterEjection === true) this.warming.start(id);
            },
          });
    this.warming =
      config.warmup === null ? null : new Warming(config.warmup, { rebuild: () => this.#build() });
    this.base = new Bucket(undefined, NO_INSTANCES, config.balancer);
    for (const [from, to] of config.fallback) {
      this.routes.set(from, newRoute(from));
      if (!this.routes.has(to)) this.routes.set(to, newRoute(to));
    }
    for (const lane of config.strictLanes) if (!this.routes.has(lane)) this.routes.set(lane, newRoute(lane));
    this.#resolveAll();
  }

  /**
   * Warns once per instance whose labels hold no configured lane label but one that looks like a
   * lane label (`lane: gray`): it is served as a base instance, so untagged traffic reaches it.
   */
  #checkLabels(instance: Instance): void {
    if (this.#warned.has(instance.id)) return;
    const key = unconfiguredLaneLabel(instance.labels, this.#config.labels);
    if (key === undefined) return;
    this.#warned.add(instance.id);
    const value = instance.labels[key]!;
    process.emitWarning(
      `instance ${instance.id} of service ${this.service} has label ${JSON.stringify(`${key}: ${value}`)}, ` +
        `which looks like a lane label but is not one of laneLabels (${this.#config.labels.source.join(', ')}): ` +
        'it is served as a BASE instance, so untagged traffic reaches it. Label it ' +
        `${JSON.stringify(`${this.#config.labels.source[0]!.replace(/\*$/, value)}: ${value}`)}, or add ` +
        `${JSON.stringify(key)} to laneLabels if it names the lane.`,
      { code: UNCONFIGURED_LANE_LABEL_WARNING },
    );
  }

  /** The registry's failure while it lasts (the last good set stays in use); cleared by the next good set. */
  get lastError(): { readonly error: Error; readonly at: number } | null {
    return this.#lastError;
  }

  set lastError(value: { readonly error: Error; readonly at: number } | null) {
    if (value === null) this.staleSince = null;
    else if (this.staleSince === null) this.staleSince = value.at;
    this.#lastError = value;
  }

  /** Rebuilds buckets and routes from a complete instance set. */
  apply(instances: readonly Instance[]): void {
    this.outliers?.retain(new Set(instances.map((i) => i.id)));
    this.warming?.observe(this.instances, instances, !this.loaded);
    this.instances = instances;
    this.#build();
    this.loaded = true;
    this.updatedAt = Date.now();
    this.staleSince = null;
  }

  /** Records a call's outcome for outlier ejection (no-op when off). */
  record(instance: Instance, outcome: CallOutcome): void {
    const outliers = this.outliers;
    if (outliers === null) return;
    if (outcome === 'success') {
      // The healthy path (every successful call): one map lookup, no clock read. Date.now()
      // returns a heap number in V8, 16 bytes per call once any instance of the service failed.
      outliers.succeeded(instance.id);
      return;
    }
    const position = this.positions.get(instance.id);
    const lane = position !== undefined ? position.bucket.lane : outliers.records.get(instance.id)?.lane;
    if (position === undefined && !outliers.records.has(instance.id)) {
      // Not in any bucket (left the registry, unhealthy): nothing to eject.
      if (!this.instances.some((i) => i.id === instance.id)) return;
    }
    outliers.record(instance, lane, outcome, Date.now());
  }

  /** Rebuilds buckets and routes from `instances` and the current ejections. */
  #build(): void {
    const instances = this.instances;
    const ejected = this.outliers?.ejected ?? null;
    const warmup = this.warming === null ? null : this.warming.refresh();
    const config = this.#config;
    const groups = new Map<string, Instance[]>();
    const base: Instance[] = [];
    const invalid: InvalidLaneInstance[] = [];
    for (const instance of instances) {
      const match = matchLaneLabel(instance.labels, config.labels);
      if (match === undefined) {
        base.push(instance);
        this.#checkLabels(instance);
      } else if (parseLane(match.value) === undefined) {
        invalid.push({ instance, label: match.key, value: match.value });
      } else {
        const group = groups.get(match.value);
        if (group === undefined) groups.set(match.value, [instance]);
        else group.push(instance);
      }
    }
    const buckets = new Map<string, Bucket>();
    for (const [lane, members] of groups) {
      buckets.set(lane, new Bucket(lane, members, config.balancer, ejected, warmup));
      if (!this.routes.has(lane)) this.routes.set(lane, newRoute(lane));
    }
    const baseBucket = new Bucket(undefined, base, config.balancer, ejected, warmup);
    // Carry counters over: in-flight requests move to the new buckets, picks into the history.
    const ids = new Set(instances.map((i) => i.id));
    for (const [id, { bucket, index }] of this.positions) {
      const picks = bucket.picks[index]!;
      if (picks > 0 || this.pickHistory.has(id))
        this.pickHistory.set(id, (this.pickHistory.get(id) ?? 0) + picks);
    }
    for (const id of this.pickHistory.keys()) if (!ids.has(id)) this.pickHistory.delete(id);
    const positions = new Map<string, { readonly bucket: Bucket; readonly index: number }>();
    for (const bucket of [baseBucket, ...buckets.values()]) {
      bucket.pickable.forEach((instance, index) => {
        const previous = this.positions.get(instance.id);
        if (previous !== undefined)
          bucket.addOutstanding(index, previous.bucket.outstandingAt(previous.index));
        positions.set(instance.id, { bucket, index });
      });
    }
    this.positions = positions;
    this.base = baseBucket;
    this.buckets = buckets;
    this.invalid = invalid;
    this.#resolveAll();
  }

  /**
   * The route of a lane seen for the first time (allocates once per lane). Values that are not
   * lanes are served as base and counted; past `maxRoutes` lanes share the `(other)` route.
   */
  routeFor(lane: string): Route {
    if (parseLane(lane) === undefined) {
      this.invalidLanePicks++;
      return this.baseRoute;
    }
    if (this.routes.size >= this.#config.maxRoutes) return this.otherRoute;
    const route = newRoute(lane);
    this.#resolve(route);
    this.routes.set(lane, route);
    return route;
  }

  /**
   * The step after `after` in the fallback chain of `route`'s lane: the next lane of the chain
   * with a pickable instance, then base unless strict. `null` when `after` is the last step.
   */
  nextStep(route: Route, after: Bucket): Bucket | null {
    const lane = route.lane;
    if (after.lane === undefined || lane === undefined) return null; // base is the last step
    const config = this.#config;
    let passed = false;
    for (let hop: string | undefined = lane; hop !== undefined; hop = config.fallback.get(hop)) {
      if (passed) {
        const bucket = this.buckets.get(hop);
        if (bucket !== undefined && bucket.size > 0) return bucket;
      } else if (hop === after.lane) {
        passed = true;
      }
    }
    const strict = config.strictAll || config.strictLanes.has(lane);
    return !strict && this.base.size > 0 ? this.base : null;
  }

  /** The persistent counter of calls from `from` served by `to` (for `reason`). */
  flowFor(from: string | undefined, to: string | undefined, reason: FallbackReason | undefined): FlowCounter {
    return this.#flow(from, to, reason);
  }

  #resolveAll(): void {
    this.#resolve(this.baseRoute);
    this.#resolve(this.otherRoute);
    for (const route of this.routes.values()) this.#resolve(route);
  }

  #resolve(route: Route): void {
    const config = this.#config;
    const lane = route.lane;
    let target: Bucket | null = null;
    if (lane !== undefined) {
      for (let hop: string | undefined = lane; hop !== undefined; hop = config.fallback.get(hop)) {
        const bucket = this.buckets.get(hop);
        if (bucket !== undefined && bucket.size > 0) {
          target = bucket;
          break;
        }
      }
    }
    const own = lane === undefined ? this.base : this.buckets.get(lane);
    const reason: FallbackReason =
      own === undefined || own.all.length === 0 ? 'no-instance' : own.eligible > 0 ? 'ejected' : 'unhealthy';
    const strict = lane !== undefined && (config.strictAll || config.strictLanes.has(lane));
    if (target === null && !strict && this.base.size > 0) target = this.base;
    if (route.bucket !== target) route.choices = null;
    route.bucket = target;
    route.fallback = target !== null && target.lane !== lane;
    route.reason = route.fallback ? reason : undefined;
    route.flow = target === null ? null : this.#flow(lane, target.lane, route.reason);
    route.detail = target === null ? this.#why(lane, strict) : '';
  }

  #flow(from: string | undefined, to: string | undefined, reason: FallbackReason | undefined): FlowCounter {
    const key = `${from ?? ''}>${to ?? ''}>${reason ?? ''}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      flow = { from, to, reason, count: 0 };
      this.flows.set(key, flow);
    }
    return flow;
  }

  #why(lane: string | undefined, strict: boolean): string {
    if (lane === undefined) {
      return 'no healthy base instance (untagged traffic never goes to an instance with a lane label)';
    }
    const chain = [lane];
    for (let hop = this.#config.fallback.get(lane); hop !== undefined; hop = this.#config.fallback.get(hop)) {
      chain.push(hop);
    }
    const lanes = chain.length > 1 ? `lanes ${chain.join(' -> ')}` : `lane ${lane}`;
    return strict
      ? `no healthy instance in ${lanes}, and strict mode forbids falling back to base`
      : `no healthy instance in ${lanes} or in the base lane`;
  }
}
