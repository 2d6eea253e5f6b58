import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import {
  consumeLanes,
  laneFields,
  laneStreamName,
  lanesKey,
  presenceKey,
} from '@graylane/messaging/redis-streams';
import { Redis } from 'ioredis';
import { brokerOrFail, uniqueName, waitFor } from './helpers';
import { type ContractGroup, laneContract } from './lane-contract';

const LIVENESS_MS = 200;
const GROUP = 'workers';
const clients: Redis[] = [];

async function connect(): Promise<Redis> {
  const redis = await brokerOrFail(
    'Redis',
    '127.0.0.1:6379',
    'redis-server --daemonize yes --port 6379 ...',
    async () => {
      const client = new Redis({
        host: '127.0.0.1',
        port: 6379,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
  );
  clients.push(redis);
  return redis;
}

let admin: Redis;
const propagation = enablePropagation();

before(async () => {
  admin = await connect();
});

after(async () => {
  propagation.disable();
  for (const c of clients) c.disconnect();
});

async function workStream(
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

async function send(stream: string, id: number, tag: string | undefined, viaContext: boolean): Promise<void> {
  const fields = ['id', String(id)];
  if (tag !== undefined && viaContext) {
    await withLane(tag, () => admin.xadd(stream, '*', ...laneFields(fields)));
  } else {
    await admin.xadd(stream, '*', ...(tag === undefined ? fields : [...fields, 'x-mse-tag', tag]));
  }
}

function idOf(fields: readonly string[]): string {
  return fields[fields.indexOf('id') + 1]!;
}

laneContract({
  broker: 'redis-streams',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<ContractGroup> {
    const stream = await workStream(t, ['gray', 'blue', 'red']);
    return {
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
});

test('redis-streams: a handler runs in its entry lane — adding an entry from it carries the lane', async (t) => {
  const stream = await workStream(t, []);
  const second = uniqueName('gl-stream-out');
  t.after(async () => {
    await admin.del(second);
  });
  const relay = await consumeLanes(await connect(), { stream, group: GROUP, lane: null }, async (entry) => {
    await admin.xadd(second, '*', ...laneFields(['id', idOf(entry.fields)]));
  });
  t.after(() => relay.close());
  await send(stream, 1, 'feature-x', false);
  await send(stream, 2, undefined, false);
  await waitFor(async () => (await admin.xlen(second)) === 2, 'relayed entries');
  const entries = (await admin.xrange(second, '-', '+')).map(([, f]) => f);
  assert.deepEqual(entries.sort(), [
    ['id', '1', 'x-mse-tag', 'feature-x'],
    ['id', '2'],
  ]);
});

test('redis-streams: options are validated at setup', async () => {
  const redis = await connect();
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ group: 'g' }, 'stream'],
    [{ stream: 's' }, 'group'],
    [{ stream: 's', group: 'g', lane: 'a/b' }, 'lane'],
    [{ stream: 's', group: 'g', batch: 0 }, 'batch'],
    [{ stream: 's', group: 'g', strict: 'gray' }, 'strict'],
    [{ stream: 's', group: 'g', livenessIntervalMs: 1000, livenessTtlMs: 500 }, 'livenessTtlMs'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      consumeLanes(redis, options as never, () => undefined),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
