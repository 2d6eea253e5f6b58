import { assertKnownOptions, InvalidOptionError, LANE_METADATA_KEY } from '@graylane/core';
import { experimental } from '@grpc/grpc-js';
import { UnsupportedGrpcError } from './errors';
import type { LaneDiscovery } from './lane-discovery';
import { laneResolverClass, laneServiceConfig, type SchemeState } from './lane-resolver';
import { setup } from './load-balancer-lane';
import { isTextMetadataKey } from './metadata-carrier';

/**
 * The default target scheme: `graylane:///<service>`.
 *
 * @example
 * new EchoClient(`${LANE_SCHEME}:///svc-b`, credentials.createInsecure());
 */
export const LANE_SCHEME = 'graylane';

/**
 * Options of {@link registerLaneChannel}.
 *
 * | option | default |
 * |---|---|
 * | `discovery` | required |
 * | `scheme` | `'graylane'` |
 * | `metadataKey` | `'x-mse-tag'` |
 */
export interface LaneChannelOptions {
  /** The `@graylane/discovery` instance (`createDiscovery()`) whose registry feeds the channels. Required. */
  readonly discovery: LaneDiscovery;
  /** Target scheme. Default `graylane` (targets `graylane:///<service>`). */
  readonly scheme?: string | undefined;
  /** Metadata key the picker reads a call's lane from. Default `x-mse-tag`. */
  readonly metadataKey?: string | undefined;
}

const LANE_CHANNEL_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  scheme: 1,
  metadataKey: 1,
} satisfies Record<keyof LaneChannelOptions, 1>);

/** Returned by {@link registerLaneChannel}. */
export interface LaneChannelRegistration {
  readonly scheme: string;
  /**
   * Detaches this registration's discovery from the scheme (if it is still the attached one).
   * grpc-js cannot unregister a resolver, so the scheme stays known: open channels keep their
   * last instance list, and new ones fail their calls with `UNAVAILABLE` until a discovery is
   * registered again. Idempotent.
   */
  close(): void;
}

// Schemes grpc-js resolves itself; taking one over would break unrelated channels.
const BUILT_IN_SCHEMES = new Set([
  'dns',
  'ipv4',
  'ipv6',
  'unix',
  'unix-abstract',
  'vsock',
  'xds',
  'google-c2p',
]);
const SCHEME = /^[a-z][a-z0-9+.-]*$/;
const REQUIRED_API = [
  'registerResolver',
  'registerLoadBalancerType',
  'statusOrFromValue',
  'statusOrFromError',
  'LeafLoadBalancer',
  'createChildChannelControlHelper',
] as const;

const schemes = new Map<string, SchemeState>();

/**
 * Makes `graylane:///<service>` channel targets route each call to an instance of the call's
 * lane. Registers, through grpc-js's experimental API, a resolver fed by `discovery` and the
 * `graylane_lane` load-balancing policy; the resolver's service config selects the policy, so a
 * plain `new Client('graylane:///svc-b', credentials)` is lane-aware. The picker reads the lane
 * from the call's metadata (`x-mse-tag`, written by {@link laneClientInterceptor}) and asks
 * `discovery.pick(service, lane)`, so fallback and strict mode are discovery's. One channel serves
 * every lane; subchannels are shared across lanes.
 *
 * Idempotent per scheme: calling it again swaps the discovery (and metadata key) of that scheme,
 * and open channels follow. Needs grpc-js >= 1.14.
 *
 * @experimental grpc-js's resolver and load-balancer API is experimental itself.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for a missing discovery or a bad scheme / key.
 * @throws {UnsupportedGrpcError} `GL_ERR_GRPC_UNSUPPORTED` when grpc-js lacks the API.
 * @example
 * const discovery = createDiscovery({ registry: staticRegistry({ instances }) });
 * registerLaneChannel({ discovery });
 * const client = new EchoClient('graylane:///svc-b', credentials.createInsecure(), {
 *   interceptors: [laneClientInterceptor()],
 * });
 * withLane('gray', () => client.unary({}, cb)); // served by a gray svc-b instance, else stable
 */
export function registerLaneChannel(options: LaneChannelOptions): LaneChannelRegistration {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object with a discovery');
  }
  assertKnownOptions('registerLaneChannel()', options, LANE_CHANNEL_OPTION_KEYS);
  const discovery = options.discovery;
  if (typeof discovery !== 'object' || discovery === null) {
    throw new InvalidOptionError('discovery', 'is required (a @graylane/discovery instance)');
  }
  for (const method of ['pick', 'instances', 'watch', 'ready'] as const) {
    if (typeof discovery[method] !== 'function') {
      throw new InvalidOptionError(`discovery.${method}`, 'must be a function (pass createDiscovery())');
    }
  }
  const scheme = options.scheme ?? LANE_SCHEME;
  if (typeof scheme !== 'string' || !SCHEME.test(scheme)) {
    throw new InvalidOptionError('scheme', `${JSON.stringify(scheme)} is not a URI scheme`);
  }
  if (BUILT_IN_SCHEMES.has(scheme)) {
    throw new InvalidOptionError('scheme', `"${scheme}" is resolved by grpc-js itself`);
  }
  const metadataKey = options.metadataKey ?? LANE_METADATA_KEY;
  if (typeof metadataKey !== 'string' || !isTextMetadataKey(metadataKey)) {
    throw new InvalidOptionError('metadataKey', `${JSON.stringify(metadataKey)} is not a text metadata key`);
  }
  const api = experimental as unknown as Record<string, unknown>;
  for (const name of REQUIRED_API) {
    if (api[name] === undefined) throw new UnsupportedGrpcError(name);
  }
  setup();
  let state = schemes.get(scheme);
  if (state === undefined) {
    state = {
      scheme,
      discovery,
      metadataKey,
      serviceConfig: laneServiceConfig(metadataKey),
      resolvers: new Set(),
    };
    schemes.set(scheme, state);
    experimental.registerResolver(scheme, laneResolverClass(state));
  } else if (state.discovery !== discovery || state.metadataKey !== metadataKey) {
    state.discovery = discovery;
    state.metadataKey = metadataKey;
    state.serviceConfig = laneServiceConfig(metadataKey);
    for (const resolver of state.resolvers) resolver.rebind();
  }
  const attached = state;
  let closed = false;
  return {
    scheme,
    close() {
      if (closed) return;
      closed = true;
      if (attached.discovery !== discovery) return;
      attached.discovery = null;
      for (const resolver of attached.resolvers) resolver.rebind();
    },
  };
}
