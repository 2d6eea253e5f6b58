import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currentLane, withLane } from '@graylane/core';
import { consumeLanes, laneHeaders } from '@graylane/messaging/nats';
import { StorageType } from '@nats-io/jetstream';
import { uniqueName, waitFor } from './helpers';
import { laneContract } from './lane-contract';
import { admin, contractBroker, DURABLE, jsm, natsConnection, send, workStream } from './nats-fixture';

laneContract(contractBroker, ['handoff', 'strict']);

test('nats: a handler runs in its message lane — publishing again from it carries the lane', async (t) => {
  const stream = await workStream(t);
  const got: Array<[string, string | undefined]> = [];
  const sub = admin.subscribe(`${stream}.out`, {
    callback: (_e, m) => {
      got.push([m.string(), m.headers?.has('x-mse-tag') ? m.headers.get('x-mse-tag') : undefined]);
    },
  });
  t.after(() => sub.unsubscribe());
  const relay = await consumeLanes(
    await natsConnection(),
    { stream, durable: DURABLE, lane: null },
    (message) => {
      admin.publish(`${stream}.out`, message.data, { headers: laneHeaders() });
    },
  );
  t.after(() => relay.close());
  await send(stream, 1, 'feature-x', false);
  await send(stream, 2, undefined, false);
  await waitFor(() => got.length === 2, 'relayed messages');
  assert.deepEqual(got.sort(), [
    ['1', 'feature-x'],
    ['2', undefined],
  ]);
});

test('nats: options are validated at setup', async () => {
  const nc = await natsConnection();
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ durable: 'd' }, 'stream'],
    [{ stream: 's' }, 'durable'],
    [{ stream: 's', durable: 'd', lane: 'a/b' }, 'lane'],
    [{ stream: 's', durable: 'd', laneStream: 'a.b' }, 'laneStream'],
    [{ stream: 's', durable: 'd', laneStream: 's' }, 'filterSubject'],
    [{ stream: 's', durable: 'd', subjectPrefix: 'a.>' }, 'subjectPrefix'],
    [{ stream: 's', durable: 'd', batch: 0 }, 'batch'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      consumeLanes(nc, options as never, () => undefined),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});

test('nats: an untagged message is handled in the base lane even when the base consumer was started inside a lane', async (t) => {
  const stream = await workStream(t);
  const lanes: Array<string | undefined> = [];
  const nc = await natsConnection();
  const base = await withLane('gray', () =>
    consumeLanes(nc, { stream, durable: DURABLE, lane: null }, () => {
      lanes.push(currentLane());
    }),
  );
  t.after(() => base.close());
  await send(stream, 1, undefined, false);
  await send(stream, 2, 'blue', false);
  await waitFor(() => lanes.length === 2, 'both handled');
  assert.deepEqual(lanes.sort(), ['blue', undefined]);
});

test('nats: the lane stream graylane makes keeps messages as the work stream does (its storage and replicas)', async (t) => {
  const stream = uniqueName('gl-jsmem').replace(/[^A-Za-z0-9_-]/g, '_');
  await jsm.streams.add({ name: stream, subjects: [`${stream}.work`], storage: StorageType.Memory });
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await jsm.streams.delete(`${stream}-lanes`).catch(() => undefined);
  });
  const base = await consumeLanes(
    await natsConnection(),
    { stream, durable: DURABLE, lane: null },
    () => undefined,
  );
  t.after(() => base.close());
  const work = await jsm.streams.info(stream);
  const lanes = await jsm.streams.info(`${stream}-lanes`);
  assert.equal(lanes.config.storage, StorageType.Memory);
  // One server here: replicas are 1 either way, so storage is what shows the lane stream follows the work stream.
  assert.equal(lanes.config.num_replicas, work.config.num_replicas);
  assert.equal(lanes.config.retention, 'workqueue');
});
