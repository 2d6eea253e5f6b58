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
  EdgeDecisionMessage,
  IngressLaneMessage,
  InjectClient,
  InjectMessage,
  InvalidTagMessage,
  InvalidTagReason,
} from './diagnostics';
export { channels } from './diagnostics';
export {
  FactoryNotCalledError,
  GraylaneError,
  InvalidImportError,
  InvalidLaneError,
  InvalidOptionError,
  InvalidRuleError,
  MissingPeerError,
} from './errors';
export type { HttpHookMode } from './http-hook';
export type { CompiledIngress, IngressOptions, LaneExtractor, LaneSource } from './ingress';
export { compileIngress, extractCarry, extractLane, laneFromHeaders } from './ingress';
export type { Lane } from './lane';
export { isLane, parseLane } from './lane';
export type { AxiosLike, LaneAxiosHandle, LaneAxiosOptions } from './lane-axios';
export { laneAxios } from './lane-axios';
export type { LaneDispatch, LaneDispatchOptions, LaneInterceptorOptions } from './lane-interceptor';
export { laneInterceptor } from './lane-interceptor';
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
export { enablePropagation, propagationCounters, resetPropagationCounters } from './propagation';
export type { CompileRulesOptions, RuleCounters } from './rules/compile-rules';
export { CompiledRules, compileRules, DEFAULT_MAX_INPUT_LENGTH } from './rules/compile-rules';
export type { AmbassadorMappingSpec, AmbassadorMappingsOptions } from './rules/import-ambassador';
export { rulesFromAmbassadorMappings } from './rules/import-ambassador';
export type { IstioVirtualServiceOptions, SubsetLanes } from './rules/import-istio';
export { rulesFromIstioVirtualService } from './rules/import-istio';
export type { KruiseTrafficRoutingOptions } from './rules/import-kruise';
export { rulesFromKruiseTrafficRouting } from './rules/import-kruise';
export type { NginxCanaryOptions } from './rules/import-nginx';
export { rulesFromNginxCanary } from './rules/import-nginx';
export type { SubsetLanesOptions } from './rules/istio-subset-lanes';
export { subsetLanesFromDestinationRule } from './rules/istio-subset-lanes';
export type {
  Condition,
  ConditionType,
  EdgeDecision,
  EdgeRequest,
  QueryLike,
  Rule,
  RuleMatch,
  StickyKey,
  StringMatch,
} from './rules/rule';
export { NO_DECISION } from './rules/rule';
export type { TrustPolicy } from './rules/trust';
export { CompiledTrust, compileTrust, stripLaneTags } from './rules/trust';
