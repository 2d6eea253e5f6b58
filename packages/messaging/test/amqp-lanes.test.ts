import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumeLanes, lanePublishOptions } from '@graylane/messaging/amqp';
import { admin, connect, contractBroker, publisher, send, workQueue } from './amqp-fixture';
import { waitFor } from './helpers';
import { laneContract } from './lane-contract';

laneContract(contractBroker, ['handoff', 'strict']);

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
