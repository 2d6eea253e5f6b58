export type { BullLaneConsumerOptions, BullLaneProcessor } from './bullmq-consumer-options';
export { DEFAULT_BULL_CONCURRENCY } from './bullmq-consumer-options';
export { ANNOUNCE_JOB_NAME, BASE_WORKER_NAME } from './bullmq-lane-consumer';
export type { BullLaneJob, BullLanePublisher, BullLanePublisherOptions } from './bullmq-lane-publisher';
export { createLanePublisher } from './bullmq-lane-publisher';
export { LANE_WORKER_NAME, laneQueueName } from './bullmq-names';
export type { BullLaneConsumerHandle } from './consume-lanes';
export { consumeLanes } from './consume-lanes';
export { laneJobData } from './job-data';
