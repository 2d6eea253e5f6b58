import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { createLanePublisher } from '@graylane/messaging/nats';
import { lanePublisherContract, type PublisherBroker } from './lane-publisher-contract';
import { admin, contractBroker, natsConnection } from './nats-fixture';

const publisherBroker: PublisherBroker = {
  ...contractBroker,
  async group(t) {
    const group = await contractBroker.group(t);
    const stream = group.name!;
    return {
      ...group,
      async publisher(livenessIntervalMs) {
        const p = await createLanePublisher(admin, { stream, livenessIntervalMs });
        return {
          async send(id, tag) {
            const publish = () => p.publish(`${stream}.work`, String(id));
            await (tag === undefined ? publish() : withLane(tag, publish));
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

test('nats publisher: options are validated at setup', async () => {
  const nc = await natsConnection();
  const bad: Array<[unknown, string]> = [
    [null, 'options'],
    [{}, 'stream'],
    [{ stream: 'a.b' }, 'stream'],
    [{ stream: 's', subjectPrefix: 'a.*' }, 'subjectPrefix'],
    [{ stream: 's', livenessIntervalMs: 10 }, 'livenessIntervalMs'],
    [{ stream: 's', header: 'a b' }, 'header'],
    [{ stream: 's', lanes: ['-x'] }, 'lanes[0]'],
    [{ stream: 's', durable: 'd' }, 'durable'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      createLanePublisher(nc, options as never),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
