import { after, before } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import {
  consumeLanes,
  createLanePublisher,
  laneFields,
  laneStreamName,
  lanesKey,
  presenceKey,
} from '@graylane/messaging/redis-streams';
import type { Redis } from 'ioredis';
import { uniqueName } from './helpers';
import type { PublisherBroker, PublisherGroup } from './lane-publisher-contract';
import { redisOrFail } from './redis-client';

export const LIVENESS_MS = 200;
export const GROUP = 'workers';
export const clients: Redis[] = [];

export async function connect(): Promise<Redis> {
  const redis = await redisOrFail('Redis');
  clients.push(redis);
  return redis;
}

export let admin: Redis;
export const propagation = enablePropagation();

before(async () => {
  admin = await connect();
});

after(async () => {
  propagation.disable();
  for (const c of clients) c.disconnect();
});

export async function workStream(
  t: { after(fn: () => Promise<void>): void },
  lanes: readonly string[],
): Promise<string> {
  const stream = uniqueName('gl-stream');
  await admin.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  t.after(async () => {
    await admin.del(
      stream,
      presenceKey(stream),
      lanesKey(stream),
      ...lanes.map((l) => laneStreamName(stream, l)),
    );
  });
  return stream;
}

export async function send(
  stream: string,
  id: number,
  tag: string | undefined,
  viaContext: boolean,
): Promise<void> {
  const fields = ['id', String(id)];
  if (tag !== undefined && viaContext) {
    await withLane(tag, () => admin.xadd(stream, '*', ...laneFields(fields)));
  } else {
    await admin.xadd(stream, '*', ...(tag === undefined ? fields : [...fields, 'x-mse-tag', tag]));
  }
}

export function idOf(fields: readonly string[]): string {
  return fields[fields.indexOf('id') + 1]!;
}

export const contractBroker: PublisherBroker = {
  broker: 'redis-streams',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<PublisherGroup> {
    const stream = await workStream(t, ['gray', 'blue', 'red']);
    return {
      name: stream,
      async consumer(lane, handle, extra) {
        return consumeLanes(
          await connect(),
          // A long TTL: on a loaded machine a late heartbeat must not read as a crash (not tested here).
          { stream, group: GROUP, lane, livenessIntervalMs: LIVENESS_MS, livenessTtlMs: 10_000, ...extra },
          (entry) => handle(idOf(entry.fields)),
        );
      },
      send: (id, tag, viaContext) => send(stream, id, tag, viaContext),
      flush: async () => undefined,
      async publisher(livenessIntervalMs) {
        const p = await createLanePublisher(admin, { stream, livenessIntervalMs, lanes: ['gray', 'blue'] });
        return {
          async send(id, tag) {
            const add = () => p.xadd('*', 'id', String(id));
            await (tag === undefined ? add() : withLane(tag, add));
          },
          flush: async () => undefined,
          liveLanes: () => p.liveLanes(),
          close: () => p.close(),
        };
      },
      async backlog(lane) {
        const key = laneStreamName(stream, lane);
        const groups = (await admin.xinfo('GROUPS', key).catch(() => [])) as unknown[][];
        const info = groups.find((g) => g[1] === GROUP);
        if (info === undefined) return 0;
        const lag = info[info.indexOf('lag') + 1];
        return typeof lag === 'number' ? lag : Number(await admin.xlen(key));
      },
    };
  },
};
