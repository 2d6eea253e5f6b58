export type { LaneConsumerHandle, LaneConsumerOptions } from './lane-consumer';
export type { LanePublisherHandle, LanePublisherOptions } from './lane-publisher';
export type { CompiledLaneRouting, LaneRoutingOptions } from './lane-routing-options';
export { compileLaneRouting, DEFAULT_LIVENESS_INTERVAL_MS } from './lane-routing-options';
export type {
  Broker,
  LaneLivenessMessage,
  MessageConsumedMessage,
  MessageFallbackMessage,
  MessageLaneCounters,
} from './message-counters';
export { messageLaneCounters, messagingChannels, resetMessageLaneCounters } from './message-counters';
export type { MessagingMetrics, MessagingMetricsOptions } from './messaging-metrics';
export { enableMessagingMetrics, MESSAGING_METRICS } from './messaging-metrics';
