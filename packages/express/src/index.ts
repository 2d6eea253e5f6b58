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
export type { LaneEdgeOptions } from './lane-edge';
export { laneEdge } from './lane-edge';
export type { LaneMiddlewareOptions } from './lane-middleware';
export { laneMiddleware } from './lane-middleware';
