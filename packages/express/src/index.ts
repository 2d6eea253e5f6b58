export { ruleSetVersionOf } from '@graylane/rules';
export type {
  DiagnosticsLiveOptions,
  DiagnosticsLiveRules,
  DiagnosticsPlan,
  LiveReport,
  LiveRulesRow,
  PlanRow,
} from './diagnostics-live';
export type {
  DiagnosticsDiscovery,
  DiagnosticsFlowLike,
  DiagnosticsInstanceLike,
  DiagnosticsReport,
  DiagnosticsReportOptions,
  DiagnosticsRules,
  DiagnosticsServiceLike,
  FallbackRow,
  LaneCounterRow,
  RegistryState,
  RegistryStateRow,
  RouteRow,
  RoutingTableRow,
  RuleRow,
} from './diagnostics-report';
export { diagnosticsReport } from './diagnostics-report';
export type { DiagnosticsRouterOptions } from './diagnostics-router';
export { diagnosticsHandler, diagnosticsRouter } from './diagnostics-router';
export type { LaneEdgeMiddleware, LaneEdgeOptions } from './lane-edge';
export { laneEdge } from './lane-edge';
export type { LaneMiddlewareOptions } from './lane-middleware';
export { laneMiddleware } from './lane-middleware';
export type { AdminPlan, PlanAdminRouterOptions } from './plan-admin-router';
export { MAX_ADMIN_BODY_BYTES, MIN_ADMIN_TOKEN_LENGTH, planAdminRouter } from './plan-admin-router';
