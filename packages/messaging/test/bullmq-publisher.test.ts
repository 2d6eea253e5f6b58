import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { createLanePublisher } from '@graylane/messaging/bullmq';
import { connection, contractBroker } from './bullmq-fixture';
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
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      createLanePublisher(options as never),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
