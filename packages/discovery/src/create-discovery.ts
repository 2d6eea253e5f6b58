import {
  assertKnownOptions,
  channels,
  currentLane,
  InvalidOptionError,
  MAX_COUNTED_LANES,
  parseLane,
} from '@graylane/core';
import { ClosedError, NoInstanceError, RegistryUnavailableError } from './errors';
import type { Instance } from './instance';
import { type BalancerCode, type Bucket, P2C, RANDOM, ROUND_ROBIN } from './internal/bucket';
import { toError } from './internal/caught';
import { type Route, type RoutingConfig, ServiceState } from './internal/service-state';
import { compileLaneLabels, DEFAULT_LANE_LABELS } from './lane-labels';
import { isServiceName } from './normalize-instance';
import type { Registry, RegistryUpdate } from './registry';
import { type DiscoverySnapshot, type ServiceSnapshot, serviceSnapshot } from './snapshot';

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
}

const DISCOVERY_OPTION_KEYS: readonly string[] = Object.keys({
  registry: 1,
  laneLabels: 1,
  fallback: 1,
  strict: 1,
  balancer: 1,
} satisfies Record<keyof DiscoveryOptions, 1>);

/** Options of {@link Discovery.ready}. */
export interface ReadyOptions {
  /** Reject after this long without a first instance set. Default 10,000 ms. */
  readonly timeoutMs?: number | undefined;
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
   * `pick()` in two steps, for integrations that may pick more than once for one call (a gRPC
   * picker picks a call again after it queued for a connection): `choose()` selects exactly like
   * `pick()` (the balancer moves on) but counts nothing; {@link Discovery.countPick} then counts
   * the one choice the call went with. A failed choice throws and is counted as in `pick()`.
   *
   * @experimental
   * @example
   * const instance = discovery.choose('svc-b', 'gray');
   * if (connected(instance)) discovery.countPick('svc-b', instance, 'gray'); // else choose again later
   */
  choose(service: string, lane?: string | null): Instance;
  /**
   * Counts a call of `lane` (omitted: `currentLane()`; `null`: base) going to `instance`, which
   * {@link Discovery.choose} returned, as `pick()` counts its picks: the route's flow (fallbacks in
   * `snapshot()`), the instance's picks and `graylane:discovery:fallback`. Counts by the lane's
   * route as it is now; an unknown service counts nothing, an unknown instance no instance picks.
   * Allocation-free once the lane has been seen.
   *
   * @experimental
   * @example
   * discovery.countPick('svc-b', instance, 'gray');
   */
  countPick(service: string, instance: Instance, lane?: string | null): void;
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
  // The last choose(), so that countPick() right after it (what the gRPC picker does) counts
  // without looking anything up again.
  #chosen: Instance | undefined;
  #chosenService = '';
  #chosenRoute: Route | undefined;
  #chosenBucket: Bucket | undefined;
  #chosenIndex = 0;

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
    };
    this.#configSnapshot = Object.freeze({
      registry: typeof registry.name === 'string' ? registry.name : 'custom',
      laneLabels: labels.source,
      fallback: Object.freeze(Object.fromEntries(fallback)),
      strict: Array.isArray(strict) ? Object.freeze(strictLanes) : strict === true,
      balancer,
    });
  }

  pick(service: string, lane: string | null | undefined = currentLane()): Instance {
    const route = this.#servingRoute(service, lane);
    const bucket = route.bucket!;
    countFlow(service, route, bucket);
    return bucket.pick();
  }

  choose(service: string, lane: string | null | undefined = currentLane()): Instance {
    const route = this.#servingRoute(service, lane);
    const bucket = route.bucket!;
    const index = bucket.next();
    const instance = bucket.pickable[index]!;
    this.#chosen = instance;
    this.#chosenService = service;
    this.#chosenRoute = route;
    this.#chosenBucket = bucket;
    this.#chosenIndex = index;
    return instance;
  }

  countPick(service: string, instance: Instance, lane: string | null | undefined = currentLane()): void {
    const chosen = this.#chosenRoute;
    if (
      instance === this.#chosen &&
      service === this.#chosenService &&
      chosen !== undefined &&
      chosen.bucket === this.#chosenBucket &&
      chosen.lane === (lane === null ? undefined : lane)
    ) {
      // The choice just made, its route unchanged since: count it where choose() found it.
      this.#chosen = undefined;
      countFlow(service, chosen, chosen.bucket!);
      chosen.bucket!.picks[this.#chosenIndex]!++;
      return;
    }
    const state = this.#services.get(service);
    if (state === undefined || !state.loaded) return;
    let route: Route;
    if (lane === undefined || lane === null) {
      route = state.baseRoute;
    } else {
      // choose() counted an invalid lane value already (served as base); do not count it twice.
      route =
        state.routes.get(lane) ?? (parseLane(lane) === undefined ? state.baseRoute : state.routeFor(lane));
    }
    const bucket = route.bucket;
    if (bucket === null) return;
    countFlow(service, route, bucket);
    const position = state.positions.get(instance.id);
    if (position !== undefined) position.bucket.picks[position.index]!++;
  }

  instances(service: string): readonly Instance[] {
    return this.#track(service).instances;
  }

  ready(service: string, options: ReadyOptions = {}): Promise<void> {
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
        if (state.watchers.has(entry)) callListener(entry, state.instances);
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
    return state;
  }

  #onUpdate(state: ServiceState, update: RegistryUpdate): void {
    if (this.#closed) return;
    const registry = this.#configSnapshot.registry;
    if (update.ok) {
      try {
        state.apply(update.instances);
      } catch (error) {
        update = { ok: false, error: toError(error) };
      }
    }
    if (!update.ok) {
      state.lastError = { error: update.error, at: Date.now() };
      if (channels.registryError.hasSubscribers) {
        channels.registryError.publish({ registry, service: state.service, error: update.error });
      }
      return;
    }
    if (channels.registryUpdate.hasSubscribers) {
      channels.registryUpdate.publish({ registry, service: state.service, instances: state.instances });
    }
    for (const waiter of [...state.waiters]) waiter.resolve();
    for (const watcher of [...state.watchers]) callListener(watcher, state.instances);
  }

  /**
   * The route of `lane` (`null`/`undefined`: base), which has a bucket; the first pick of a new
   * lane makes its route. Throws (and counts the miss) when nothing can serve the lane.
   */
  #servingRoute(service: string, lane: string | null | undefined): Route {
    const state = this.#services.get(service);
    if (state === undefined || !state.loaded) return this.#notLoaded(service, lane);
    const route =
      lane === undefined || lane === null
        ? state.baseRoute
        : (state.routes.get(lane) ?? state.routeFor(lane));
    if (route.bucket === null) return this.#noInstance(state, route);
    return route;
  }

  #notLoaded(service: string, lane: string | null | undefined): never {
    if (this.#closed) throw new ClosedError('discovery');
    const state = this.#track(service);
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
    if (channels.noInstance.hasSubscribers) {
      channels.noInstance.publish({ service: state.service, lane: route.lane });
    }
    throw new NoInstanceError(state.service, route.lane, route.detail);
  }
}

/** Counts one call along `route` (served by `bucket`) and publishes it when it is a fallback. */
function countFlow(service: string, route: Route, bucket: Bucket): void {
  route.flow!.count++;
  if (route.fallback && channels.fallback.hasSubscribers) {
    channels.fallback.publish({ service, lane: route.lane, servedLane: bucket.lane });
  }
}

// A listener's exception must not break the update for the others: rethrow it on its own tick.
function callListener(listener: InstancesListener, instances: readonly Instance[]): void {
  try {
    listener(instances);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
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
