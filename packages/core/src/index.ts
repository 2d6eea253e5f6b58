export type { BaggageRead } from './baggage';
export { readBaggage } from './baggage';
export type { CarrierGetter, CarrierSetter, HeaderRecord, HeadersLike } from './carrier';
export { FETCH_HEADERS_GETTER, firstValue, RECORD_GETTER } from './carrier';
export type { ClsMirror, ClsMirrorOptions, ClsNamespaceLike } from './cls-hooked';
export { CLS_LANE_KEY, mirrorLaneToClsNamespace } from './cls-hooked';
export {
  LANE_BAGGAGE_KEY,
  LANE_HEADER,
  LANE_METADATA_KEY,
  MAX_BAGGAGE_ENTRIES,
  MAX_BAGGAGE_LENGTH,
  MAX_CARRY_VALUE_LENGTH,
  MAX_LANE_LENGTH,
  MAX_TAG_FIELD_LENGTH,
} from './constants';
export type { LaneContext } from './context';
export {
  BASE_CONTEXT,
  createLaneContext,
  currentLane,
  currentLaneContext,
  withLane,
  withLaneContext,
} from './context';
export type { IngressCounters } from './counters';
export {
  BASE_LANE_KEY,
  countIngress,
  countInvalidTag,
  ingressCounters,
  MAX_COUNTED_LANES,
  OTHER_LANES,
  resetIngressCounters,
} from './counters';
export type {
  IngressLaneMessage,
  InjectClient,
  InjectMessage,
  InvalidTagMessage,
  InvalidTagReason,
} from './diagnostics';
export { channels } from './diagnostics';
export { DEFAULT_LABELS_FILE, parseDownwardLabels, readDownwardLabels } from './downward-labels';
export {
  FactoryNotCalledError,
  GraylaneError,
  InvalidLaneError,
  InvalidOptionError,
  MissingPeerError,
} from './errors';
export type { HttpHookMode } from './http-hook';
export { isHttpToken } from './http-token';
export type { CompiledIngress, IngressOptions, LaneExtractor, LaneSource } from './ingress';
export { compileIngress, extractCarry, extractLane, laneFromHeaders } from './ingress';
export type { InstanceLaneHandle, InstanceLaneOptions } from './instance-lane';
export {
  backgroundLane,
  DEFAULT_LANE_ENV,
  enableInstanceLane,
  instanceLane,
  readInstanceLane,
  setInstanceLane,
} from './instance-lane';
export type { Lane } from './lane';
export { isLane, parseLane } from './lane';
export type { AxiosLike, LaneAxiosHandle, LaneAxiosOptions } from './lane-axios';
export { laneAxios } from './lane-axios';
export type { LaneDispatch, LaneDispatchOptions, LaneInterceptorOptions } from './lane-interceptor';
export { laneInterceptor } from './lane-interceptor';
export type { CompiledLaneLabels, LaneLabelMatch } from './lane-labels';
export {
  COMPILED_DEFAULT_LANE_LABELS,
  compileLaneLabels,
  DEFAULT_LANE_LABELS,
  laneLabelFor,
  matchLaneLabel,
  UNCONFIGURED_LANE_LABEL_WARNING,
  unconfiguredLaneLabel,
} from './lane-labels';
export { assertKnownOptions, closestKey, factoryNotCalled, isIncomingRequest } from './options';
export type { OpenTelemetryBridge, OpenTelemetryBridgeOptions } from './otel-bridge';
export { enableOpenTelemetryBridge } from './otel-bridge';
export type {
  LaneLogger,
  LaneLogRecord,
  LaneMeter,
  LaneObservability,
  LaneObservabilityOptions,
} from './otel-observability';
export { enableLaneObservability, LANE_METRICS, LANE_SPAN_ATTRIBUTE } from './otel-observability';
export type { PropagationCounters, PropagationHandle, PropagationOptions } from './propagation';
export {
  disablePropagationWarning,
  enablePropagation,
  propagationCounters,
  resetPropagationCounters,
} from './propagation';
export type { LaneRequest, RequestEmitter } from './request-lane';
export {
  bindEmitterToLane,
  laneRequestListener,
  prebindServerRequests,
  requestLaneContext,
  runInRequestLane,
} from './request-lane';
