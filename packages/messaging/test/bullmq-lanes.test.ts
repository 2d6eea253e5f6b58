import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumeLanes, laneJobData } from '@graylane/messaging/bullmq';
import { connection, contractBroker, queueOf, send, workQueue } from './bullmq-fixture';
import { waitFor } from './helpers';
import { laneContract } from './lane-contract';

laneContract(contractBroker, ['handoff', 'strict']);

test('bullmq: a processor runs in its job lane — adding a job from it carries the lane', async (t) => {
  const { name } = workQueue(t, []);
  const out = workQueue(t, []);
  const source = queueOf(name);
  const relay = await consumeLanes({ queue: name, connection, lane: null }, async (job) => {
    await out.queue.add('relayed', laneJobData({ id: (job.data as { id: string }).id }));
  });
  t.after(() => relay.close());
  await send(source, 1, 'feature-x', false);
  await send(source, 2, undefined, false);
  await waitFor(async () => (await out.queue.getWaitingCount()) === 2, 'relayed jobs');
  const data = (await out.queue.getWaiting()).map((j) => j.data).sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(data, [{ id: '1', 'x-mse-tag': 'feature-x' }, { id: '2' }]);
});

test('bullmq: options are validated at setup', async () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ connection }, 'queue'],
    [{ queue: 'a:b', connection }, 'queue'],
    [{ queue: 'q' }, 'connection'],
    [{ queue: 'q', connection, lane: 'a/b' }, 'lane'],
    [{ queue: 'q', connection, concurrency: 0 }, 'concurrency'],
    [{ queue: 'q', connection, lockDurationMs: 99 }, 'lockDurationMs'],
    [{ queue: 'q', connection, stalledIntervalMs: 1.5 }, 'stalledIntervalMs'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      consumeLanes(options as never, () => undefined),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
