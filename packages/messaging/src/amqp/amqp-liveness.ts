// How a lane's liveness is read and announced on RabbitMQ; base consumers and lane publishers
// read it the same way.
import type { Lane } from '@graylane/core';
import type { Channel } from 'amqplib';
import { ANNOUNCE_HEADER, PRESENCE_QUEUE_OPTIONS, presenceQueueName } from './amqp-names';

/** `true` while `lane` has a live consumer on `queue`: its presence queue's consumer count, from the broker. */
export async function readLaneLiveness(channel: Channel, queue: string, lane: Lane): Promise<boolean> {
  const { consumerCount } = await channel.assertQueue(presenceQueueName(queue, lane), PRESENCE_QUEUE_OPTIONS);
  return consumerCount > 0;
}

const EMPTY = Buffer.alloc(0);

/**
 * Sends an announcement of `lane` through the work queue: the base consumer that gets it reads
 * the lane's liveness at once (and, if it did not know the lane, watches it from then on).
 */
export function announceLane(channel: Channel, queue: string, lane: Lane): boolean {
  return channel.sendToQueue(queue, EMPTY, { headers: { [ANNOUNCE_HEADER]: lane } });
}
