export type {
  BalancerName,
  Discovery,
  DiscoveryOptions,
  InstancesListener,
  ReadyOptions,
} from './create-discovery';
export { createDiscovery, DEFAULT_BALANCER, DEFAULT_READY_TIMEOUT_MS } from './create-discovery';
export { DEFAULT_LABELS_FILE, parseDownwardLabels, readDownwardLabels } from './downward-labels';
export {
  ClosedError,
  InvalidInstanceError,
  NoInstanceError,
  RegistrationUnsupportedError,
  RegistryUnavailableError,
} from './errors';
export type { Instance, InstanceInit, ServiceInstanceInit } from './instance';
export { DEFAULT_WEIGHT } from './instance';
export type { AxiosConfigLike, AxiosLike, LaneAxiosDiscoveryOptions } from './lane-axios';
export { laneAxiosDiscovery } from './lane-axios';
export type { CompiledLaneLabels, LaneLabelMatch } from './lane-labels';
export {
  compileLaneLabels,
  DEFAULT_LANE_LABELS,
  laneLabelFor,
  laneOf,
  matchLaneLabel,
  UNCONFIGURED_LANE_LABEL_WARNING,
} from './lane-labels';
export {
  isServiceName,
  MAX_SERVICE_NAME_LENGTH,
  MAX_WEIGHT,
  normalizeInstance,
  validateServiceName,
} from './normalize-instance';
export type { Registration, Registry, RegistryListener, RegistryUpdate } from './registry';
export type { RegisterOptions } from './self-register';
export { closeOnSignals, DEFAULT_CLOSE_SIGNALS, DEFAULT_LANE_ENV, register } from './self-register';
export type {
  ConfigSnapshot,
  DiscoverySnapshot,
  FlowSnapshot,
  InstanceSnapshot,
  InvalidInstanceSnapshot,
  LaneBucketSnapshot,
  RouteSnapshot,
  ServiceSnapshot,
} from './snapshot';
export type { StaticRegistryOptions } from './static-registry';
export {
  DEFAULT_INSTANCES_ENV,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_RELOAD_DEBOUNCE_MS,
  StaticRegistry,
  staticRegistry,
} from './static-registry';
