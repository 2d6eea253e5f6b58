import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLanePublisher } from '@graylane/messaging/redis-streams';
import { lanePublisherContract } from './lane-publisher-contract';
import { admin, contractBroker } from './redis-streams-fixture';

lanePublisherContract(contractBroker);

test('redis-streams publisher: options are validated at setup', async () => {
  const bad: Array<[unknown, string]> = [
    [null, 'options'],
    [{ stream: '' }, 'stream'],
    [{ stream: 's', livenessIntervalMs: 10 }, 'livenessIntervalMs'],
    [{ stream: 's', header: 'a b' }, 'header'],
    [{ stream: 's', lanes: ['-x'] }, 'lanes[0]'],
    [{ stream: 's', group: 'g' }, 'group'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      createLanePublisher(admin, options as never),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
