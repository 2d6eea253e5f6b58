import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { messageLaneCounters, resetMessageLaneCounters } from '@graylane/messaging';
import { consumeLanes, createLanePublisher, laneQueueName } from '@graylane/messaging/bullmq';
import type { Job } from 'bullmq';
import { connection, contractBroker, workQueue } from './bullmq-fixture';
import { waitFor } from './helpers';
import { lanePublisherContract, type PublisherBroker } from './lane-publisher-contract';

const publisherBroker: PublisherBroker = {
  ...contractBroker,
  async group(t) {
    const group = await contractBroker.group(t);
    const queue = group.name!;
    return {
      ...group,
      async publisher(livenessIntervalMs) {
        // BullMQ has no list of a queue's lanes to read at start: the publisher is told the
        // contract's lanes (it also learns a lane from the first job it adds in it, see below).
        const p = await createLanePublisher({
          queue,
          connection,
          livenessIntervalMs,
          lanes: ['gray', 'blue', 'red'],
        });
        return {
          async send(id, tag) {
            const add = () => p.add('job', { id: String(id) });
            await (tag === undefined ? add() : withLane(tag, add));
          },
          flush: async () => undefined,
          liveLanes: () => p.liveLanes(),
          close: () => p.close(),
        };
      },
    };
  },
};

lanePublisherContract(publisherBroker);

test('bullmq publisher: options are validated at setup', async () => {
  const bad: Array<[unknown, string]> = [
    [null, 'options'],
    [{ connection }, 'queue'],
    [{ queue: 'a:b', connection }, 'queue'],
    [{ queue: 'q' }, 'connection'],
    [{ queue: 'q', connection, prefix: '' }, 'prefix'],
    [{ queue: 'q', connection, livenessIntervalMs: 10 }, 'livenessIntervalMs'],
    [{ queue: 'q', connection, lanes: ['-x'] }, 'lanes[0]'],
    [{ queue: 'q', connection, concurrency: 1 }, 'concurrency'], // a worker option: not the publisher's
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      createLanePublisher(options as never),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});

test('bullmq publisher: learns a lane from the first job it adds in it — that one goes through the group, later ones straight to the lane; addBulk keeps the order', async (t) => {
  const { name } = workQueue(t, ['gray', 'blue']);
  const seen: Array<[string, string]> = [];
  const record = (by: string) => (job: Job) => {
    seen.push([(job.data as { id: string }).id, by]);
  };
  const options = { queue: name, connection, livenessIntervalMs: 200 };
  const base = await consumeLanes({ ...options, lane: null }, record('base'));
  const gray = await consumeLanes({ ...options, lane: 'gray' }, record('gray'));
  const publisher = await createLanePublisher(options); // no `lanes`: it knows none yet
  t.after(() => Promise.all([base.close(), gray.close(), publisher.close()]).then(() => undefined));
  resetMessageLaneCounters();

  await withLane('gray', () => publisher.add('job', { id: 'first' }));
  await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live');
  await waitFor(() => seen.length === 1, 'the first gray job handled');
  assert.deepEqual(seen, [['first', 'gray']]);
  assert.equal(messageLaneCounters().routed.gray, 1, 'the first gray job was moved by base');

  const jobs = withLane('gray', () => [
    { name: 'job', data: { id: 'g1' } },
    { name: 'job', data: { id: 'u1', 'x-mse-tag': undefined } },
    { name: 'job', data: { id: 'b1', 'x-mse-tag': 'blue' } },
    { name: 'job', data: { id: 'g2' } },
  ]);
  const added = await withLane('gray', () => publisher.addBulk(jobs));
  assert.deepEqual(
    added.map((j) => [(j.data as { id: string }).id, j.queueName]),
    [
      ['g1', laneQueueName(name, 'gray')],
      ['u1', laneQueueName(name, 'gray')], // `undefined` is no tag: the current lane applies
      ['b1', name], // blue has no live worker: the group's queue
      ['g2', laneQueueName(name, 'gray')],
    ],
  );
  const plain = await publisher.add('job', { id: 'untagged' });
  assert.equal(plain.queueName, name);
  assert.deepEqual(plain.data, { id: 'untagged' });
  await waitFor(() => seen.length === 6, 'every job handled');
  assert.deepEqual(Object.fromEntries(seen), {
    first: 'gray',
    g1: 'gray',
    u1: 'gray',
    b1: 'base',
    g2: 'gray',
    untagged: 'base',
  });
  assert.equal(messageLaneCounters().routed.gray, 1, 'nothing more moved by base');
});
