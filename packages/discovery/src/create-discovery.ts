import {
  assertKnownOptions,
  currentLane,
  InvalidOptionError,
  MAX_COUNTED_LANES,
  parseLane,
} from '@graylane/core';
import { discoveryChannels } from './diagnostics';
import { ClosedError, NoInstanceError, RegistryUnavailableError } from './errors';
import type { Instance } from './instance';
import { type BalancerCode, type Bucket, P2C, RANDOM, ROUND_ROBIN } from './internal/bucket';
import { toError } from './internal/caught';
import { callListener } from './internal/fanout';
import { type Route, RouteChoice, type RoutingConfig, ServiceState } from './internal/service-state';
import { compileLaneLabels, DEFAULT_LANE_LABELS } from './lane-labels';
import { isServiceName } from './normalize-instance';
import { type CallOutcome, type OutlierOptions, outlierConfig } from './outlier-detection';
import type { Registry, RegistryUpdate } from './registry';
import { type DiscoverySnapshot, type ServiceSnapshot, serviceSnapshot } from './snapshot';
import { type WarmupOptions, warmupConfig } from './warmup';

/** How an instance is chosen within the served lane's bucket. */
export type BalancerName = 'round-robin' | 'random' | 'p2c';

/** Default balancer: smooth weighted round-robin. */
export const DEFAULT_BALANCER: BalancerName = 'round-robin';

/** Default `ready()` timeout. */
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

const BALANCERS: Readonly<Record<BalancerName, BalancerCode>> = {
  'round-robin': ROUND_ROBIN,
  random: RANDOM,
  p2c: P2C,
};

/** Options of {@link createDiscovery}. */
export interface DiscoveryOptions {
  /** Where instances come from (`staticRegistry()`, `etcdRegistry()`, `kubernetesRegistry()`, yours). */
  readonly registry: Registry;
  /** Labels that name an instance's lane, first present wins. Default {@link DEFAULT_LANE_LABELS}. */
  readonly laneLabels?: readonly string[] | undefined;
  /**
   * Where a lane goes when it has no healthy instance: `{ 'feature-x': 'gray' }`. Chains may be
   * longer; a cycle is a setup error. After the chain comes the base lane unless strict. Default `{}`.
   */
  readonly fallback?: Readonly<Record<string, string>> | undefined;
  /**
   * `true`: no lane ever falls back to base; a list: only those (requested) lanes. Default `false`.
   */
  readonly strict?: boolean | readonly string[] | undefined;
  /** Default `'round-robin'` (smooth weighted). */
  readonly balancer?: BalancerName | undefined;
  /**
   * Passive outlier ejection, fed by the integrations' call outcomes ({@link Discovery.reportOutcome}).
   * Default on with {@link OutlierOptions}' defaults; `false` turns it off.
   */
  readonly outlier?: OutlierOptions | false | undefined;
  /**
   * Warm-up (slow start): an instance that becomes pickable while discovery runs gets a share of
   * its lane bucket's traffic that ramps up over `durationMs` ({@link WarmupOptions}). Default off.
   */
  readonly warmup?: WarmupOptions | false | undefined;
}

const DISCOVERY_OPTION_KEYS: readonly string[] = Object.keys({
  registry: 1,
  laneLabels: 1,
  fallback: 1,
  strict: 1,
  balancer: 1,
  outlier: 1,
  warmup: 1,
} satisfies Record<keyof DiscoveryOptions, 1>);

/** Options of {@link Discovery.ready}. */
export interface ReadyOptions {
  /** Reject after this long without a first instance set. Default 10,000 ms. */
  readonly timeoutMs?: number | undefined;
}

const READY_OPTION_KEYS: readonly string[] = Object.keys({ timeoutMs: 1 } satisfies Record<
  keyof ReadyOptions,
  1
>);

/**
 * One selection of {@link Discovery.choose}: the instance to call and what to count when the call
 * goes there ({@link Discovery.countPick}). Immutable.
 */
export interface Choice {
  readonly service: string;
  /** The requested lane (`undefined` = base; a value that is not a lane is served, and shown, as base). */
  readonly lane: string | undefined;
  readonly instance: Instance;
}

/** Receives a service's complete instance set (all of them, healthy or not) on every change. */
export type InstancesListener = (instances: readonly Instance[]) => void;

/** Label-aware instance selection over one registry. Create with {@link createDiscovery}. */
export interface Discovery {
  readonly registry: Registry;
  /**
   * Chooses the instance to call for `service` in `lane`.
   *
   * - `lane` omitted (or `undefined`): the current lane, `currentLane()` from `@graylane/core`.
   * - `lane === null`: explicitly the base lane.
   * - a lane: a healthy instance of that lane, else of its fallback chain, else base (unless strict).
   * - base: base instances only; an instance with a lane label never receives untagged traffic.
   *
   * O(1) in the number of instances; allocates nothing once the lane has been seen.
   *
   * @throws {NoInstanceError} `GL_ERR_NO_INSTANCE` when nothing can serve the call, including
   *   before the service's first instance set arrived (see {@link Discovery.ready}).
   * @throws {ClosedError} `GL_ERR_DISCOVERY_CLOSED` after `close()`.
   */
  pick(service: string, lane?: string | null): Instance;
  /**
   * `pick()` in two steps, for integrations that may select more than once for one call (a gRPC
   * picker picks a call again after it queued for a connection): `choose()` selects exactly like
   * `pick()` (the balancer moves on) and returns the choice without counting it;
   * {@link Discovery.countPick} then counts the one choice the call went with. Choices are
   * independent values: any number may be outstanding, in any order, for any services and lanes.
   * A failed choice throws and is counted as in `pick()`. Allocates nothing once the lane has
   * been seen (a choice is reused for the same route and instance).
   *
   * @throws {NoInstanceError} `GL_ERR_NO_INSTANCE` as `pick()`.
   * @throws {ClosedError} `GL_ERR_DISCOVERY_CLOSED` after `close()`.
   * @experimental
   * @example
   * const choice = discovery.choose('svc-b', 'gray');
   * if (connected(choice.instance)) discovery.countPick(choice); // else choose again later
   */
  choose(service: string, lane?: string | null): Choice;
  /**
   * Counts a call going where `choice` ({@link Discovery.choose}) says, as `pick()` counts its
   * picks: the route's flow (fallbacks in `snapshot()`), the instance's picks and
   * `graylane:discovery:fallback`. Counted as routed when chosen, even if the registry changed
   * since. A value that is not a choice of this discovery is ignored. Allocation-free.
   *
   * @experimental
   * @example
   * discovery.countPick(discovery.choose('svc-b', 'gray'));
   */
  countPick(choice: Choice): void;
  /**
   * Another choice for a call whose `choice` failed before any byte of it reached the instance
   * (connect refused, reset before write, connect timeout): another instance of the same routing
   * decision — the same lane bucket, else the next step of the lane's fallback chain (then base
   * unless strict), never a step the lane rules would not allow. Counts nothing.
   *
   * @throws {NoInstanceError} `GL_ERR_NO_INSTANCE` when no other instance may serve the call.
   * @throws {ClosedError} `GL_ERR_DISCOVERY_CLOSED` after `close()`.
   * @experimental
   * @example
   * const retry = discovery.chooseAgain(choice);
   * discovery.countPick(retry);
   */
  chooseAgain(choice: Choice): Choice;
  /**
   * Reports how a call to `instance` ended, for outlier ejection: `'success'` (any response the
   * instance produced, 2xx–4xx, or 5xx when `consecutive5xx` is off), `'connect-failure'`
   * (refused, reset before any response, connect timeout), `'timeout'` (no response in time),
   * `'server-error'` (5xx / gRPC `UNAVAILABLE`). Integrations call it; unknown instances are
   * ignored. Allocation-free.
   *
   * @example
   * discovery.reportOutcome('svc-b', instance, 'connect-failure');
   */
  reportOutcome(service: string, instance: Instance, outcome: CallOutcome): void;
  /** The service's last good instance set (all instances, as the registry gave them). Subscribes on first use. */
  instances(service: string): readonly Instance[];
  /**
   * Resolves once the service's first instance set has arrived (subscribes on first use).
   *
   * @throws {RegistryUnavailableError} `GL_ERR_REGISTRY_UNAVAILABLE` (rejection) on timeout.
   */
  ready(service: string, options?: ReadyOptions): Promise<void>;
  /**
   * Calls `listener` with the service's instance set now (asynchronously, if already loaded) and on
   * every change. Returns the function that stops it.
   */
  watch(service: string, listener: InstancesListener): () => void;
  /**
   * Counts a request to `instance` starting or ending, for the `p2c` balancer. Integrations call it;
   * every `'start'` must be followed by exactly one `'end'`. Unknown instances are ignored.
   */
  report(service: string, instance: Instance, event: 'start' | 'end'): void;
  /** True once something asked about `service` (pick, instances, ready, watch). */
  tracks(service: string): boolean;
  /**
   * True once the service's first instance set arrived (then `pick()` answers without waiting).
   * Does not subscribe; false after `close()`.
   */
  isLoaded(service: string): boolean;
  /** The routing table for diagnostics; JSON-serializable. */
  snapshot(): DiscoverySnapshot;
  /** Stops every subscription; pending `ready()` calls reject. The registry is not closed. */
  close(): Promise<void>;
}

/**
 * Creates label-aware discovery over a registry.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for a bad option, including a fallback cycle.
 * @example
 * const discovery = createDiscovery({
 *   registry: staticRegistry({ file: './instances.yaml' }),
 *   fallback: { 'feature-x': 'gray' },
 * });
 * await discovery.ready('svc-b');
 * const { host, port } = discovery.pick('svc-b'); // in the current lane
 */
export function createDiscovery(options: DiscoveryOptions): Discovery {
  return new LaneDiscovery(options);
}

class LaneDiscovery implements Discovery {
  readonly registry: Registry;
  readonly #config: RoutingConfig;
  readonly #configSnapshot: DiscoverySnapshot['config'];
  readonly #services = new Map<string, ServiceState>();
  #closed = false;

  constructor(options: DiscoveryOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'expected { registry, ... }');
    }
    assertKnownOptions('createDiscovery()', options, DISCOVERY_OPTION_KEYS);
    const { registry } = options;
    if (typeof registry !== 'object' || registry === null || typeof registry.subscribe !== 'function') {
      throw new InvalidOptionError('registry', 'expected a Registry (subscribe, register, close)');
    }
    this.registry = registry;
    const labels = compileLaneLabels(options.laneLabels ?? DEFAULT_LANE_LABELS);
    const fallback = validateFallback(options.fallback ?? {});
    const strict = options.strict ?? false;
    let strictLanes: string[] = [];
    if (Array.isArray(strict)) {
      strictLanes = strict.map((lane: unknown, i) => {
        if (parseLane(lane) === undefined) throw new InvalidOptionError(`strict[${i}]`, 'expected a lane');
        return lane as string;
      });
    } else if (typeof strict !== 'boolean') {
      throw new InvalidOptionError('strict', 'expected a boolean or an array of lanes');
    }
    const balancer = options.balancer ?? DEFAULT_BALANCER;
    if (!Object.hasOwn(BALANCERS, balancer)) {
      throw new InvalidOptionError('balancer', `expected one of ${Object.keys(BALANCERS).join(', ')}`);
    }
    this.#config = {
      balancer: BALANCERS[balancer],
      labels,
      fallback,
      strictAll: strict === true,
      strictLanes: new Set(strictLanes),
      maxRoutes: MAX_COUNTED_LANES,
      outlier: outlierConfig(options.outlier),
      warmup: warmupConfig(options.warmup),
    };
    this.#configSnapshot = Object.freeze({
      registry: typeof registry.name === 'string' ? registry.name : 'custom',
      laneLabels: labels.source,
      fallback: Object.freeze(Object.fromEntries(fallback)),
      strict: Array.isArray(strict) ? Object.freeze(strictLanes) : strict === true,
      balancer,
    });
  }

  chooseAgain(choice: Choice): Choice {
    if (this.#closed) throw new ClosedError('discovery');
    if (!(choice instanceof RouteChoice))
      throw new InvalidOptionError('choice', 'expected a Choice of this discovery');
    const state = choice.state;
    const route = choice.route;
    const failed = choice.instance.id;
    // The lane's route as it is now (the failed instance may have been ejected since).
    let bucket = route.bucket;
    if (bucket === null) return this.#noInstance(state, route);
    for (let step = 0; step < 8 && bucket !== null; step++) {
      const index = otherThan(bucket, failed);
      if (index !== -1) {
        if (bucket === route.bucket) return this.#choiceAt(state, route, bucket, index);
        const reason = 'unreachable';
        return new RouteChoice(
          state,
          route,
          bucket,
          index,
          state.flowFor(route.lane, bucket.lane, reason),
          reason,
        );
      }
      bucket = state.nextStep(route, bucket);
    }
    throw new NoInstanceError(
      service(state),
      route.lane,
      `no instance other than ${failed} may serve the call`,
    );
  }

  reportOutcome(service: string, instance: Instance, outcome: CallOutcome): void {
    const state = this.#services.get(service);
    if (state === undefined || typeof instance !== 'object' || instance === null) return;
    state.record(instance, outcome);
  }

  pick(service: string, lane: string | null | undefined = currentLane()): Instance {
    const route = this.#servingRoute(service, lane);
    const bucket = route.bucket!;
    countFlow(service, route, bucket);
    return bucket.pick();
  }

  choose(service: string, lane: string | null | undefined = currentLane()): Choice {
    const route = this.#servingRoute(service, lane);
    const bucket = route.bucket!;
    return this.#choiceAt(this.#services.get(service)!, route, bucket, bucket.next());
  }

  /** The (cached) choice of `bucket.pickable[index]` on `route`, whose bucket `bucket` is. */
  #choiceAt(state: ServiceState, route: Route, bucket: Bucket, index: number): RouteChoice {
    let choices = route.choices;
    if (choices === null) {
      choices = new Array<RouteChoice | undefined>(bucket.size);
      route.choices = choices;
    }
    let choice = choices[index];
    if (choice === undefined) {
      choice = new RouteChoice(state, route, bucket, index);
      choices[index] = choice;
    }
    return choice;
  }

  countPick(choice: Choice): void {
    if (this.#closed) return;
    if (!(choice instanceof RouteChoice) || choice.state !== this.#services.get(choice.service)) return;
    const { bucket, index } = choice;
    const flow = choice.flow;
    flow.count++;
    if (choice.fallback && discoveryChannels.fallback.hasSubscribers) {
      discoveryChannels.fallback.publish({
        service: choice.service,
        lane: choice.lane,
        servedLane: bucket.lane,
        reason: choice.reason,
      });
    }
    const state = choice.state;
    if (bucket === state.base || state.buckets.get(bucket.lane!) === bucket) {
      bucket.picks[index]!++;
    } else {
      // The bucket was rebuilt since the choice: count the instance where it is now.
      const position = state.positions.get(choice.instance.id);
      if (position !== undefined) position.bucket.picks[position.index]!++;
    }
  }

  instances(service: string): readonly Instance[] {
    return this.#track(service).instances;
  }

  ready(service: string, options: ReadyOptions = {}): Promise<void> {
    try {
      assertKnownOptions('discovery.ready()', options, READY_OPTION_KEYS);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return Promise.reject(new InvalidOptionError('timeoutMs', 'expected a number >= 0'));
    }
    let state: ServiceState;
    try {
      state = this.#track(service);
    } catch (error) {
      return Promise.reject(error);
    }
    if (state.loaded) return Promise.resolve();
    const registryName = this.#configSnapshot.registry;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          state.waiters.delete(waiter);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          state.waiters.delete(waiter);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const cause = state.lastError?.error;
        const last = cause === undefined ? '' : ` (last error: ${cause.message})`;
        waiter.reject(
          new RegistryUnavailableError(
            registryName,
            `no instance set for ${service} within ${timeoutMs} ms${last}`,
            {
              cause,
            },
          ),
        );
      }, timeoutMs);
      state.waiters.add(waiter);
    });
  }

  watch(service: string, listener: InstancesListener): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'expected a function');
    const state = this.#track(service);
    // A wrapper per watch, so the same listener may watch twice and each unwatch removes one.
    const entry = (instances: readonly Instance[]): void => listener(instances);
    state.watchers.add(entry);
    if (state.loaded) {
      queueMicrotask(() => {
        if (state.watchers.has(entry))
          callListener(this.#configSnapshot.registry, service, entry, state.instances);
      });
    }
    return () => {
      state.watchers.delete(entry);
    };
  }

  report(service: string, instance: Instance, event: 'start' | 'end'): void {
    const state = this.#services.get(service);
    if (state === undefined) return;
    const position = state.positions.get(instance.id);
    if (position === undefined) return;
    position.bucket.addOutstanding(position.index, event === 'start' ? 1 : -1);
  }

  tracks(service: string): boolean {
    return this.#services.has(service);
  }

  isLoaded(service: string): boolean {
    return !this.#closed && this.#services.get(service)?.loaded === true;
  }

  snapshot(): DiscoverySnapshot {
    const services: Record<string, ServiceSnapshot> = {};
    for (const name of [...this.#services.keys()].sort())
      services[name] = serviceSnapshot(this.#services.get(name)!);
    return { closed: this.#closed, config: this.#configSnapshot, services };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const state of this.#services.values()) {
      state.outliers?.close();
      state.warming?.close();
      state.unsubscribe?.();
      state.unsubscribe = null;
      state.watchers.clear();
      for (const waiter of [...state.waiters]) waiter.reject(new ClosedError('discovery'));
    }
    return Promise.resolve();
  }

  #track(service: string): ServiceState {
    if (this.#closed) throw new ClosedError('discovery');
    const known = this.#services.get(service);
    if (known !== undefined) return known;
    if (!isServiceName(service)) {
      throw new InvalidOptionError('service', 'expected a service name (letters, digits, -, _, .)');
    }
    const state = new ServiceState(service, this.#config);
    this.#services.set(service, state);
    state.unsubscribe = this.registry.subscribe(service, (update) => this.#onUpdate(state, update));
    // A registry that knows the set synchronously (static): pickable now, not after a tick.
    const current = typeof this.registry.current === 'function' ? this.registry.current(service) : undefined;
    if (current !== undefined) this.#onUpdate(state, { ok: true, instances: current });
    return state;
  }

  #onUpdate(state: ServiceState, update: RegistryUpdate): void {
    if (this.#closed) return;
    const registry = this.#configSnapshot.registry;
    if (update.ok && state.lastError !== null) {
      // Recovered: the failure is history (kept in lastFailure), no longer the current state.
      state.lastFailure!.recoveredAt = Date.now();
      state.lastError = null;
    }
    if (update.ok && state.loaded && update.instances === state.instances) {
      // The same set again (a registry confirming it, or delivering what current() gave).
      for (const waiter of [...state.waiters]) waiter.resolve();
      return;
    }
    if (update.ok) {
      try {
        state.apply(update.instances);
      } catch (error) {
        update = { ok: false, error: toError(error) };
      }
    }
    if (!update.ok) {
      const at = Date.now();
      state.lastError = { error: update.error, at };
      state.lastFailure = { error: update.error, at, recoveredAt: null };
      state.failures++;
      if (discoveryChannels.registryError.hasSubscribers) {
        discoveryChannels.registryError.publish({ registry, service: state.service, error: update.error });
      }
      return;
    }
    if (discoveryChannels.registryUpdate.hasSubscribers) {
      discoveryChannels.registryUpdate.publish({
        registry,
        service: state.service,
        instances: state.instances,
      });
    }
    for (const waiter of [...state.waiters]) waiter.resolve();
    for (const watcher of [...state.watchers])
      callListener(registry, state.service, watcher, state.instances);
  }

  /**
   * The route of `lane` (`null`/`undefined`: base), which has a bucket; the first pick of a new
   * lane makes its route. Throws (and counts the miss) when nothing can serve the lane.
   */
  #servingRoute(service: string, lane: string | null | undefined): Route {
    if (this.#closed) throw new ClosedError('discovery');
    let state = this.#services.get(service);
    if (state === undefined || !state.loaded) state = this.#load(service, lane);
    const route =
      lane === undefined || lane === null
        ? state.baseRoute
        : (state.routes.get(lane) ?? state.routeFor(lane));
    if (route.bucket === null) return this.#noInstance(state, route);
    return route;
  }

  /** Tracks `service`; returns its state when that loaded it (a synchronous registry), else throws. */
  #load(service: string, lane: string | null | undefined): ServiceState {
    const state = this.#track(service);
    if (state.loaded) return state;
    const cause = state.lastError?.error;
    const last = cause === undefined ? '' : `; last registry error: ${cause.message}`;
    throw new NoInstanceError(
      service,
      lane ?? undefined,
      `service ${service} is not loaded yet (no instance set from the ${this.#configSnapshot.registry} registry); call await discovery.ready('${service}') at startup${last}`,
    );
  }

  #noInstance(state: ServiceState, route: Route): never {
    if (this.#closed) throw new ClosedError('discovery');
    route.misses++;
    if (discoveryChannels.noInstance.hasSubscribers) {
      discoveryChannels.noInstance.publish({ service: state.service, lane: route.lane });
    }
    throw new NoInstanceError(state.service, route.lane, route.detail);
  }
}

/** Counts one call along `route` (served by `bucket`) and publishes it when it is a fallback. */
function countFlow(service: string, route: Route, bucket: Bucket): void {
  route.flow!.count++;
  if (route.fallback && discoveryChannels.fallback.hasSubscribers) {
    discoveryChannels.fallback.publish({
      service,
      lane: route.lane,
      servedLane: bucket.lane,
      reason: route.reason,
    });
  }
}

function service(state: ServiceState): string {
  return state.service;
}

/** The balancer's next choice in `bucket` unless it is `failed`, else the next other instance; -1 if none. */
function otherThan(bucket: Bucket, failed: string): number {
  if (bucket.size === 0) return -1;
  const first = bucket.next();
  if (bucket.pickable[first]!.id !== failed) return first;
  for (let j = 1; j < bucket.size; j++) {
    const index = (first + j) % bucket.size;
    if (bucket.pickable[index]!.id !== failed) return index;
  }
  return -1;
}

function validateFallback(fallback: Readonly<Record<string, string>>): ReadonlyMap<string, string> {
  if (typeof fallback !== 'object' || fallback === null || Array.isArray(fallback)) {
    throw new InvalidOptionError('fallback', 'expected an object { lane: fallbackLane }');
  }
  const map = new Map<string, string>();
  for (const [from, to] of Object.entries(fallback)) {
    if (parseLane(from) === undefined)
      throw new InvalidOptionError(`fallback.${from}`, 'the key is not a lane');
    if (parseLane(to) === undefined) throw new InvalidOptionError(`fallback.${from}`, 'expected a lane');
    map.set(from, to);
  }
  for (const start of map.keys()) {
    const seen = [start];
    for (let hop = map.get(start); hop !== undefined; hop = map.get(hop)) {
      if (seen.includes(hop)) {
        throw new InvalidOptionError('fallback', `cycle ${[...seen, hop].join(' -> ')}`);
      }
      seen.push(hop);
    }
  }
  return map;
}
