export type { CompileRulesOptions, RuleCounters } from './compile-rules';
export { CompiledRules, compileRules, DEFAULT_MAX_INPUT_LENGTH } from './compile-rules';
export type { EdgeOptions } from './edge';
export { CompiledEdge, compileEdge, SettledLane } from './edge';
export type { EdgeDecisionMessage } from './edge-diagnostics';
export { edgeChannels } from './edge-diagnostics';
export { observeEdgeOutcome } from './edge-outcome';
export {
  InvalidImportError,
  InvalidPlanError,
  InvalidRuleError,
  PlanStoreError,
  RegexTooCostlyError,
  RuleSourceError,
} from './errors';
export type { FileRuleSourceOptions } from './file-rule-source';
export { DEFAULT_FILE_DEBOUNCE_MS, DEFAULT_FILE_POLL_INTERVAL_MS, fileRuleSource } from './file-rule-source';
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
export type { AnalysisOptions, AnalysisVerdict, LaneFigures } from './lane-analysis';
export type { LaneCarrierRecord } from './lane-carriers';
export { compileLaneCarriers, LaneCarriers, rewriteBaggage, setLaneCarriers } from './lane-carriers';
export type {
  PlanAbortMessage,
  PlanStepMessage,
  RulesRejectMessage,
  RulesReloadMessage,
} from './live-diagnostics';
export { liveChannels } from './live-diagnostics';
export type { LiveRulesErrorInfo, LiveRulesOptions, LiveRulesStatus } from './live-rules';
export { LiveRules, liveRules } from './live-rules';
export type { CarrierMessage } from './message-carriers';
export { settleLaneCarriers } from './message-carriers';
export type { HeaderRouteMatch, PlanStep } from './plan-steps';
export { parseDuration } from './plan-steps';
export type { PlanState, PlanStore, StoredPlan } from './plan-store';
export { memoryPlanStore } from './plan-store';
export { MAX_REGEX_WORK } from './regex';
export type { PlanStatus, ReleasePlanOptions } from './release-plan';
export {
  DEFAULT_PLAN_RESYNC_INTERVAL_MS,
  DEFAULT_PLAN_TICK_INTERVAL_MS,
  PLAN_WRITE_ATTEMPTS,
  ReleasePlan,
  releasePlan,
} from './release-plan';
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
export type { RuleDocumentFormat } from './rule-document';
export { parseRuleDocument, rulesOfDocument } from './rule-document';
export type { RuleSet, RuleSetProvider } from './rule-set';
export { isRuleSetProvider } from './rule-set';
export { ruleSetVersionOf } from './rule-set-version';
export type { RuleSource, RuleSourceUpdate } from './rule-source';
export { isRuleSource } from './rule-source';
export type { TrustPolicy } from './trust';
export { CompiledTrust, compileTrust } from './trust';
