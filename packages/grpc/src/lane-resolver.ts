import { experimental, type ServiceConfig, status } from '@grpc/grpc-js';
import { SchemeClosedError } from './errors';
import { DISCOVERY_ATTRIBUTE, INSTANCES_ATTRIBUTE, SERVICE_ATTRIBUTE } from './internal/attributes';
import type { LaneDiscovery, LaneInstance } from './lane-discovery';
import { TYPE_NAME } from './load-balancer-lane';

/** What one registered scheme shares with its resolvers. Mutable: a registration can swap it. */
export interface SchemeState {
  readonly scheme: string;
  discovery: LaneDiscovery | null;
  metadataKey: string;
  serviceConfig: ServiceConfig;
  readonly resolvers: Set<LaneResolver>;
}

type ResolverConstructor = Parameters<typeof experimental.registerResolver>[1];

/** The service config every lane channel gets: the `graylane_lane` policy, no method config. */
export function laneServiceConfig(metadataKey: string): ServiceConfig {
  return { loadBalancingConfig: [{ [TYPE_NAME]: { metadataKey } }], methodConfig: [] };
}

/** `graylane:///svc-b` -> `svc-b`; `undefined` when the path names no service. */
export function serviceOf(target: experimental.GrpcUri): string | undefined {
  let path = target.path;
  while (path.startsWith('/')) path = path.slice(1);
  return path.length === 0 || path.includes('/') ? undefined : path;
}

/**
 * Resolves `<scheme>:///<service>` from a discovery: the endpoint list is the service's healthy
 * instances (every lane, one endpoint per `host:port`), the service config selects the
 * `graylane_lane` policy, and the attributes hand the discovery and instances to that policy.
 * Results are delivered asynchronously and coalesced; a registry change is one delivery.
 */
export class LaneResolver implements experimental.Resolver {
  readonly #state: SchemeState;
  readonly #service: string;
  readonly #listener: experimental.ResolverListener;
  #discovery: LaneDiscovery | null = null;
  #unsubscribe: (() => void) | null = null;
  #instances: readonly LaneInstance[] | null = null;
  #scheduled = false;
  #active = false;

  constructor(state: SchemeState, target: experimental.GrpcUri, listener: experimental.ResolverListener) {
    this.#state = state;
    this.#service = serviceOf(target) ?? '';
    this.#listener = listener;
  }

  updateResolution(): void {
    if (!this.#active) {
      this.#active = true;
      this.#state.resolvers.add(this);
    }
    if (this.#discovery !== this.#state.discovery) this.#subscribe(this.#state.discovery);
    this.#schedule();
  }

  destroy(): void {
    this.#active = false;
    this.#state.resolvers.delete(this);
    this.#unsubscribeNow();
    this.#discovery = null;
    this.#instances = null;
  }

  /** The scheme's discovery changed (swap or close): follow it. */
  rebind(): void {
    if (!this.#active) return;
    this.#subscribe(this.#state.discovery);
    this.#schedule();
  }

  #subscribe(discovery: LaneDiscovery | null): void {
    this.#unsubscribeNow();
    this.#discovery = discovery;
    this.#instances = null;
    if (discovery === null) return;
    const service = this.#service;
    this.#unsubscribe = discovery.watch(service, (instances) => {
      if (this.#discovery !== discovery) return;
      this.#instances = instances;
      this.#schedule();
    });
    discovery.ready(service).then(
      () => {
        if (this.#discovery !== discovery || this.#instances !== null) return;
        this.#instances = discovery.instances(service);
        this.#schedule();
      },
      () => {
        // A discovery that cannot become ready reports through its own diagnostics; picks
        // then fail with UNAVAILABLE naming the service.
      },
    );
  }

  #unsubscribeNow(): void {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = null;
    if (unsubscribe !== null) unsubscribe();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // grpc-js: results are never delivered synchronously with updateResolution().
    setImmediate(deliver, this);
  }

  /** @internal Called by {@link deliver}. */
  deliverNow(): void {
    this.#scheduled = false;
    if (!this.#active) return;
    const discovery = this.#discovery;
    if (discovery === null) {
      const error = new SchemeClosedError(this.#state.scheme);
      this.#listener(
        experimental.statusOrFromError({ code: status.UNAVAILABLE, details: error.message }),
        {},
        null,
        error.message,
      );
      return;
    }
    const instances = this.#instances;
    if (instances === null) return; // not ready yet; the watch or ready() will schedule us
    this.#listener(
      experimental.statusOrFromValue(endpointsOf(instances)),
      {
        [DISCOVERY_ATTRIBUTE]: discovery,
        [SERVICE_ATTRIBUTE]: this.#service,
        [INSTANCES_ATTRIBUTE]: instances,
      },
      experimental.statusOrFromValue(this.#state.serviceConfig),
      '',
    );
  }
}

function deliver(resolver: LaneResolver): void {
  resolver.deliverNow();
}

function endpointsOf(instances: readonly LaneInstance[]): experimental.Endpoint[] {
  const seen = new Set<string>();
  const endpoints: experimental.Endpoint[] = [];
  for (const instance of instances) {
    if (!instance.healthy || instance.weight === 0) continue;
    const key = `${instance.host}:${instance.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    endpoints.push({ addresses: [{ host: instance.host, port: instance.port }] });
  }
  return endpoints;
}

/** A resolver class bound to one scheme's state, for `experimental.registerResolver`. */
export function laneResolverClass(state: SchemeState): ResolverConstructor {
  return class BoundLaneResolver extends LaneResolver {
    constructor(target: experimental.GrpcUri, listener: experimental.ResolverListener) {
      super(state, target, listener);
    }

    static getDefaultAuthority(target: experimental.GrpcUri): string {
      const service = serviceOf(target);
      if (service === undefined) {
        throw new Error(
          `${state.scheme}: target must be ${state.scheme}:///<service>, got path "${target.path}"`,
        );
      }
      return service;
    }
  };
}
