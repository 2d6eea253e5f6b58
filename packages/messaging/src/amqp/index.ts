export type { AmqpLaneConsumerOptions, AmqpLaneHandler } from './amqp-consumer-options';
export { DEFAULT_AMQP_PREFETCH } from './amqp-consumer-options';
export type { AmqpLanePublisher, AmqpLanePublisherOptions } from './amqp-lane-publisher';
export { createLanePublisher } from './amqp-lane-publisher';
export { laneQueueName, presenceQueueName } from './amqp-names';
export { lanePublishOptions } from './amqp-publish';
export type { AmqpLaneConsumerHandle } from './consume-lanes';
export { consumeLanes } from './consume-lanes';
