import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLanePublisher } from '@graylane/messaging/amqp';
import { connect, contractBroker, LIVENESS_MS } from './amqp-fixture';
import { callDownstream, downstream, duplicates, waitFor } from './helpers';
import { lanePublisherContract } from './lane-publisher-contract';

lanePublisherContract(contractBroker);

test('amqp publisher: options are validated at setup', async () => {
  const connection = await connect();
  const bad: Array<[unknown, string]> = [
    [null, 'options'],
    [{ queue: '' }, 'queue'],
    [{ queue: 'q', livenessIntervalMs: 10 }, 'livenessIntervalMs'],
    [{ queue: 'q', header: 'a b' }, 'header'],
    [{ queue: 'q', lanes: ['-x'] }, 'lanes[0]'],
    [{ queue: 'q', laneQueueOptions: 1 }, 'laneQueueOptions'],
    [{ queue: 'q', strict: true }, 'strict'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      createLanePublisher(connection, options as never),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});

test('amqp publisher: a lane gone is announced — a base consumer that never saw the lane drains its queue', async (t) => {
  const group = await contractBroker.group(t);
  const down = await downstream(t);
  const as = (by: string) => (id: string) => callDownstream(down.url, id, by);
  const first = await group.consumer(null, as('base'));
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gray = await group.consumer('gray', async (id) => {
    await gate; // holds its prefetch, so the rest stays in the lane queue
    await as('gray')(id);
  });
  t.after(() => Promise.all([first.close(), gray.close()]).then(() => undefined));
  await waitFor(() => first.liveLanes().includes('gray'), 'the first base consumer got the announcement');
  // The second base consumer starts after the announcement was taken: it knows no lane.
  const second = await group.consumer(null, as('base'));
  t.after(() => second.close());
  await first.close();
  assert.deepEqual(second.liveLanes(), []);

  const publisher = await group.publisher(LIVENESS_MS);
  t.after(() => publisher.close());
  await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live');
  for (let i = 0; i < 300; i++) await publisher.send(i, 'gray');
  await publisher.flush();
  const closing = gray.close(); // leaves presence at once; its held messages finish when the gate opens
  await waitFor(() => down.seen.filter((s) => s.by === 'base').length >= 200, 'base drained gray', 20_000);
  open();
  await closing;
  await waitFor(() => down.seen.length >= 300, 'all 300 handled');
  await new Promise((r) => setTimeout(r, 3 * LIVENESS_MS));
  assert.equal(down.seen.length, 300);
  assert.deepEqual(duplicates(down.seen), []);
  assert.ok(down.seen.every((s) => s.tag === 'gray'));
});
