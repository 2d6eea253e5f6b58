export type { StreamLaneConsumerHandle } from './consume-lanes';
export { consumeLanes } from './consume-lanes';
export type { StreamEntry, StreamLaneConsumerOptions, StreamLaneHandler } from './stream-consumer-options';
export { DEFAULT_CLAIM_IDLE_MS, DEFAULT_STREAM_BATCH } from './stream-consumer-options';
export { laneFields } from './stream-fields';
export type { StreamsClient } from './stream-lane-consumer';
export type { RoutedEntry, StreamLanePublisher, StreamLanePublisherOptions } from './stream-lane-publisher';
export { createLanePublisher } from './stream-lane-publisher';
export { laneStreamName, lanesKey, presenceKey } from './stream-names';
