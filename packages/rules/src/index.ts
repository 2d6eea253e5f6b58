export type { CompileRulesOptions, RuleCounters } from './compile-rules';
export { CompiledRules, compileRules, DEFAULT_MAX_INPUT_LENGTH } from './compile-rules';
export { InvalidImportError, InvalidRuleError, RegexTooCostlyError } from './errors';
export type { AmbassadorMappingSpec, AmbassadorMappingsOptions } from './import-ambassador';
export { rulesFromAmbassadorMappings } from './import-ambassador';
export type { IstioVirtualServiceOptions, SubsetLanes } from './import-istio';
export { rulesFromIstioVirtualService } from './import-istio';
export type { KruiseTrafficRoutingOptions } from './import-kruise';
export { rulesFromKruiseTrafficRouting } from './import-kruise';
export type { NginxCanaryOptions } from './import-nginx';
export { rulesFromNginxCanary } from './import-nginx';
export type { SubsetLanesOptions } from './istio-subset-lanes';
export { subsetLanesFromDestinationRule } from './istio-subset-lanes';
export type { LaneCarrierRecord } from './lane-carriers';
export { compileLaneCarriers, LaneCarriers, rewriteBaggage, setLaneCarriers } from './lane-carriers';
export type { CarrierMessage } from './message-carriers';
export { settleLaneCarriers } from './message-carriers';
export { MAX_REGEX_WORK } from './regex';
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
} from './rule';
export { NO_DECISION } from './rule';
export type { TrustPolicy } from './trust';
export { CompiledTrust, compileTrust } from './trust';
