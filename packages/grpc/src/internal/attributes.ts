import { experimental } from '@grpc/grpc-js';

// Resolver attributes reach the load balancer merged into its channel options. Keys under this
// prefix are stripped before grpc-js creates subchannels, so they never split the subchannel pool.
const PREFIX = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.graylane`;

/** Attribute: the discovery the resolver read (a `LaneDiscovery`). */
export const DISCOVERY_ATTRIBUTE = `${PREFIX}.discovery`;
/** Attribute: the service name of the target. */
export const SERVICE_ATTRIBUTE = `${PREFIX}.service`;
/** Attribute: the instances the endpoint list was made from. */
export const INSTANCES_ATTRIBUTE = `${PREFIX}.instances`;
