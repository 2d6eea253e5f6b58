export { SchemeClosedError, UnroutableCallError, UnsupportedGrpcError } from './errors';
export type { LaneClientInterceptorOptions } from './lane-client-interceptor';
export { laneClientInterceptor } from './lane-client-interceptor';
export type { LaneChoice, LaneDiscovery, LaneInstance } from './lane-discovery';
export type { LaneServerInterceptorOptions } from './lane-server-interceptor';
export { laneServerInterceptor } from './lane-server-interceptor';
export type { LanePickerEntry } from './load-balancer-lane';
export {
  ERROR_CODE_METADATA_KEY,
  LaneLoadBalancer,
  LaneLoadBalancingConfig,
  LanePicker,
  TYPE_NAME as LANE_LB_POLICY,
} from './load-balancer-lane';
export { isTextMetadataKey, METADATA_GETTER, METADATA_SETTER } from './metadata-carrier';
export type { LaneChannelOptions, LaneChannelRegistration } from './register-lane-channel';
export { LANE_SCHEME, registerLaneChannel } from './register-lane-channel';
