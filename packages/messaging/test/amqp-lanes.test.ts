import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import { consumeLanes, lanePublishOptions, laneQueueName, presenceQueueName } from '@graylane/messaging/amqp';
import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { brokerOrFail, uniqueName, waitFor } from './helpers';
import { type ContractGroup, laneContract } from './lane-contract';

const LIVENESS_MS = 200;
const connections: ChannelModel[] = [];

async function connect(): Promise<ChannelModel> {
  const connection = await brokerOrFail('RabbitMQ', '127.0.0.1:5672', 'rabbitmq-server -detached', () =>
    amqplib.connect('amqp://guest:guest@127.0.0.1:5672'),
  );
  connection.on('error', () => undefined);
  connections.push(connection);
  return connection;
}

let admin: ChannelModel;
let publisher: ConfirmChannel;
const propagation = enablePropagation();

before(async () => {
  admin = await connect();
  publisher = await admin.createConfirmChannel();
});

after(async () => {
  propagation.disable();
  for (const c of connections) await c.close().catch(() => undefined);
});

/** A work queue deleted, with its lane and presence queues, after the test. */
async function workQueue(
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

function send(queue: string, id: number, tag: string | undefined, viaContext: boolean): void {
  const options = { messageId: String(id) };
  if (tag !== undefined && viaContext) {
    withLane(tag, () => publisher.sendToQueue(queue, Buffer.from(String(id)), lanePublishOptions(options)));
  } else {
    const headers = tag === undefined ? {} : { 'x-mse-tag': tag };
    publisher.sendToQueue(queue, Buffer.from(String(id)), { ...options, headers });
  }
}

laneContract({
  broker: 'amqp',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<ContractGroup> {
    const queue = await workQueue(t, ['gray', 'blue', 'red']);
    return {
      async consumer(lane, handle, extra) {
        return consumeLanes(
          await connect(),
          { queue, lane, livenessIntervalMs: LIVENESS_MS, ...extra },
          (message) => handle(message.properties.messageId as string),
        );
      },
      send: (id, tag, viaContext) => send(queue, id, tag, viaContext),
      flush: () => publisher.waitForConfirms(),
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
});

test('amqp: a handler runs in its message lane — publishing again from it carries the lane', async (t) => {
  const queue = await workQueue(t, []);
  const second = await workQueue(t, []);
  const relay = await consumeLanes(await connect(), { queue, lane: null }, async (message) => {
    publisher.sendToQueue(
      second,
      message.content,
      lanePublishOptions({ messageId: message.properties.messageId }),
    );
  });
  t.after(() => relay.close());
  send(queue, 1, 'feature-x', false);
  send(queue, 2, undefined, false);
  await publisher.waitForConfirms();
  const check = await admin.createChannel();
  t.after(() => check.close().catch(() => undefined));
  const got: Array<[string, unknown]> = [];
  await waitFor(async () => {
    const message = await check.get(second, { noAck: true });
    if (message !== false)
      got.push([message.properties.messageId, message.properties.headers?.['x-mse-tag']]);
    return got.length === 2;
  }, 'relayed messages');
  assert.deepEqual(got.sort(), [
    ['1', 'feature-x'],
    ['2', undefined],
  ]);
});

test('amqp: options are validated at setup', async () => {
  const connection = await connect();
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ queue: '' }, 'queue'],
    [{ queue: 'q', lane: 'a/b' }, 'lane'],
    [{ queue: 'q', prefetch: 0 }, 'prefetch'],
    [{ queue: 'q', strict: ['-x'] }, 'strict[0]'],
    [{ queue: 'q', fallback: { a: 'b', b: 'a' } }, 'fallback.a'],
    [{ queue: 'q', livenessIntervalMs: 1 }, 'livenessIntervalMs'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      consumeLanes(connection, options as never, () => undefined),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
