import { after, before } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import {
  consumeLanes,
  createLanePublisher,
  lanePublishOptions,
  laneQueueName,
  presenceQueueName,
} from '@graylane/messaging/amqp';
import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { brokerOrFail, uniqueName } from './helpers';
import type { PublisherBroker, PublisherGroup } from './lane-publisher-contract';

export const LIVENESS_MS = 200;
export const connections: ChannelModel[] = [];

export async function connect(): Promise<ChannelModel> {
  const connection = await brokerOrFail('RabbitMQ', '127.0.0.1:5672', 'rabbitmq-server -detached', () =>
    amqplib.connect('amqp://guest:guest@127.0.0.1:5672'),
  );
  connection.on('error', () => undefined);
  connections.push(connection);
  return connection;
}

export let admin: ChannelModel;
export let publisher: ConfirmChannel;
export const propagation = enablePropagation();

before(async () => {
  admin = await connect();
  publisher = await admin.createConfirmChannel();
});

after(async () => {
  propagation.disable();
  for (const c of connections) await c.close().catch(() => undefined);
});

/** A work queue deleted, with its lane and presence queues, after the test. */
export async function workQueue(
  t: { after(fn: () => Promise<void>): void },
  lanes: readonly string[],
): Promise<string> {
  const queue = uniqueName('gl-amqp');
  await publisher.assertQueue(queue, { durable: false });
  t.after(async () => {
    const ch = await admin.createChannel();
    for (const name of [
      queue,
      ...lanes.flatMap((l) => [laneQueueName(queue, l), presenceQueueName(queue, l)]),
    ]) {
      await ch.deleteQueue(name).catch(() => undefined);
    }
    await ch.close().catch(() => undefined);
  });
  return queue;
}

export function send(queue: string, id: number, tag: string | undefined, viaContext: boolean): void {
  const options = { messageId: String(id) };
  if (tag !== undefined && viaContext) {
    withLane(tag, () => publisher.sendToQueue(queue, Buffer.from(String(id)), lanePublishOptions(options)));
  } else {
    const headers = tag === undefined ? {} : { 'x-mse-tag': tag };
    publisher.sendToQueue(queue, Buffer.from(String(id)), { ...options, headers });
  }
}

export const contractBroker: PublisherBroker = {
  broker: 'amqp',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<PublisherGroup> {
    const queue = await workQueue(t, ['gray', 'blue', 'red']);
    return {
      name: queue,
      async consumer(lane, handle, extra) {
        return consumeLanes(
          await connect(),
          { queue, lane, livenessIntervalMs: LIVENESS_MS, ...extra },
          (message) => handle(message.properties.messageId as string),
        );
      },
      send: (id, tag, viaContext) => send(queue, id, tag, viaContext),
      flush: () => publisher.waitForConfirms(),
      async publisher(livenessIntervalMs) {
        const p = await createLanePublisher(await connect(), {
          queue,
          livenessIntervalMs,
          lanes: ['gray', 'blue'],
        });
        return {
          send(id, tag) {
            const publish = () => p.sendToQueue(Buffer.from(String(id)), { messageId: String(id) });
            if (tag === undefined) publish();
            else withLane(tag, publish);
          },
          flush: () => p.waitForConfirms(),
          liveLanes: () => p.liveLanes(),
          close: () => p.close(),
        };
      },
      async backlog(lane) {
        const ch = await admin.createChannel();
        try {
          return (await ch.checkQueue(laneQueueName(queue, lane))).messageCount;
        } catch {
          return 0;
        } finally {
          await ch.close().catch(() => undefined);
        }
      },
    };
  },
};
