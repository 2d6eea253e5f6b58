export {
  DEFAULT_LABELS_FILE,
  DEFAULT_LANE_ENV,
  parseDownwardLabels,
  readDownwardLabels,
} from '@graylane/core';
export {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
} from './call-timeouts';
export type {
  BalancerName,
  Choice,
  Discovery,
  DiscoveryOptions,
  InstancesListener,
  ReadyOptions,
} from './create-discovery';
export { createDiscovery, DEFAULT_BALANCER, DEFAULT_READY_TIMEOUT_MS } from './create-discovery';
export type {
  FallbackMessage,
  NoInstanceMessage,
  OutlierMessage,
  OutlierReason,
  RegistryErrorMessage,
  RegistryUpdateMessage,
  RetryMessage,
} from './diagnostics';
export { discoveryChannels } from './diagnostics';
export type { DrainableServer, DrainOptions } from './drain';
export { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_DRAIN_MS, drainAndClose } from './drain';
export {
  ClosedError,
  ConnectTimeoutError,
  InvalidInstanceError,
  NoInstanceError,
  RegistrationUnsupportedError,
  RegistryUnavailableError,
} from './errors';
export type { Instance, InstanceInit, ServiceInstanceInit } from './instance';
export { DEFAULT_WEIGHT } from './instance';
export type { FallbackReason } from './internal/service-state';
export type { AxiosConfigLike, AxiosLike, LaneAxiosDiscoveryOptions, RoutedRequest } from './lane-axios';
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
export type { CallOutcome, OutlierOptions } from './outlier-detection';
export {
  DEFAULT_BASE_EJECTION_MS,
  DEFAULT_CONSECUTIVE_FAILURES,
  DEFAULT_MAX_EJECTION_MS,
  DEFAULT_MAX_EJECTION_PERCENT,
} from './outlier-detection';
export type { Registration, Registry, RegistryListener, RegistryUpdate } from './registry';
export type { RegisterOptions } from './self-register';
export { closeOnSignals, DEFAULT_CLOSE_SIGNALS, register } from './self-register';
export type { ServiceHosts } from './service-hosts';
export { DEFAULT_LOAD_TIMEOUT_MS, isServiceHost } from './service-hosts';
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
export type { WarmupOptions } from './warmup';
export { DEFAULT_WARMUP_CURVE, DEFAULT_WARMUP_MIN_WEIGHT_PERCENT } from './warmup';
