import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumeLanes, laneFields } from '@graylane/messaging/redis-streams';
import { uniqueName, waitFor } from './helpers';
import { laneContract } from './lane-contract';
import { admin, connect, contractBroker, GROUP, idOf, send, workStream } from './redis-streams-fixture';

laneContract(contractBroker, ['handoff', 'strict']);

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
