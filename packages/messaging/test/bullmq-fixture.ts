import { after, before } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import { consumeLanes, laneJobData, laneQueueName } from '@graylane/messaging/bullmq';
import { Queue } from 'bullmq';
import { uniqueName } from './helpers';
import type { ContractBroker, ContractGroup } from './lane-contract';
import { REDIS, redisOrFail } from './redis-client';

export const LIVENESS_MS = 200;
export const connection = { ...REDIS };
export const queues: Queue[] = [];
export const propagation = enablePropagation();

before(async () => {
  // Fail clearly, naming the broker, when Redis is not there (BullMQ itself would retry forever).
  const probe = await redisOrFail('Redis (BullMQ)');
  probe.disconnect();
});

after(async () => {
  propagation.disable();
  for (const q of queues) await q.close().catch(() => undefined);
});

export function queueOf(name: string): Queue {
  const queue = new Queue(name, { connection });
  queue.on('error', () => undefined);
  queues.push(queue);
  return queue;
}

/** A work queue, obliterated with its lane queues after the test. */
export function workQueue(
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

export async function send(
  queue: Queue,
  id: number,
  tag: string | undefined,
  viaContext: boolean,
): Promise<void> {
  const data = { id: String(id) };
  if (tag !== undefined && viaContext) {
    await withLane(tag, () => queue.add('job', laneJobData(data)));
  } else {
    await queue.add('job', tag === undefined ? data : { ...data, 'x-mse-tag': tag });
  }
}

export const contractBroker: ContractBroker = {
  broker: 'bullmq',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<ContractGroup> {
    const { name, queue } = workQueue(t, ['gray', 'blue', 'red']);
    return {
      name,
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
};
