import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import { consumeLanes, laneJobData, laneQueueName } from '@graylane/messaging/bullmq';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { brokerOrFail, uniqueName, waitFor } from './helpers';
import { type ContractGroup, laneContract } from './lane-contract';

const LIVENESS_MS = 200;
const connection = { host: '127.0.0.1', port: 6379 };
const queues: Queue[] = [];
const propagation = enablePropagation();

before(async () => {
  // Fail clearly, naming the broker, when Redis is not there (BullMQ itself would retry forever).
  const probe = await brokerOrFail(
    'Redis (BullMQ)',
    '127.0.0.1:6379',
    'redis-server --daemonize yes --port 6379 ...',
    async () => {
      const client = new Redis({
        ...connection,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
  );
  probe.disconnect();
});

after(async () => {
  propagation.disable();
  for (const q of queues) await q.close().catch(() => undefined);
});

function queueOf(name: string): Queue {
  const queue = new Queue(name, { connection });
  queue.on('error', () => undefined);
  queues.push(queue);
  return queue;
}

/** A work queue, obliterated with its lane queues after the test. */
function workQueue(
  t: { after(fn: () => Promise<void>): void },
  lanes: readonly string[],
): { name: string; queue: Queue } {
  const name = uniqueName('gl-bull');
  const queue = queueOf(name);
  t.after(async () => {
    for (const q of [queue, ...lanes.map((l) => queueOf(laneQueueName(name, l)))]) {
      await q.obliterate({ force: true }).catch(() => undefined);
    }
  });
  return { name, queue };
}

async function send(queue: Queue, id: number, tag: string | undefined, viaContext: boolean): Promise<void> {
  const data = { id: String(id) };
  if (tag !== undefined && viaContext) {
    await withLane(tag, () => queue.add('job', laneJobData(data)));
  } else {
    await queue.add('job', tag === undefined ? data : { ...data, 'x-mse-tag': tag });
  }
}

laneContract({
  broker: 'bullmq',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<ContractGroup> {
    const { name, queue } = workQueue(t, ['gray', 'blue', 'red']);
    return {
      consumer: (lane, handle, extra) =>
        consumeLanes(
          { queue: name, connection, lane, livenessIntervalMs: LIVENESS_MS, concurrency: 50, ...extra },
          (job) => handle((job.data as { id: string }).id),
        ),
      send: (id, tag, viaContext) => send(queue, id, tag, viaContext),
      flush: async () => undefined,
      async backlog(lane) {
        return queueOf(laneQueueName(name, lane)).getWaitingCount();
      },
    };
  },
});

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
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      consumeLanes(options as never, () => undefined),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
