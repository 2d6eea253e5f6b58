export type { NatsLaneConsumerHandle } from './consume-lanes';
export { consumeLanes } from './consume-lanes';
export type { NatsLaneConsumerOptions, NatsLaneHandler } from './nats-consumer-options';
export { DEFAULT_NATS_ACK_WAIT_MS, DEFAULT_NATS_BATCH } from './nats-consumer-options';
export { laneHeaders } from './nats-headers';
export { ORIGIN_SUBJECT_HEADER } from './nats-lane-consumer';
export type { NatsLanePublisher, NatsLanePublisherOptions } from './nats-lane-publisher';
export { createLanePublisher } from './nats-lane-publisher';
export { laneDurableName, laneSubject, presenceSubject } from './nats-names';
