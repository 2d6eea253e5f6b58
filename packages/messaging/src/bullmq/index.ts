export type { BullLaneConsumerOptions, BullLaneProcessor } from './bullmq-consumer-options';
export { DEFAULT_BULL_CONCURRENCY } from './bullmq-consumer-options';
export {
  ANNOUNCE_JOB_NAME,
  BASE_WORKER_NAME,
  LANE_WORKER_NAME,
  laneQueueName,
} from './bullmq-lane-consumer';
export type { BullLaneConsumerHandle } from './consume-lanes';
export { consumeLanes } from './consume-lanes';
export { laneJobData } from './job-data';
