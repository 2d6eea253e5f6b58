import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { messageLaneCounters, resetMessageLaneCounters } from '@graylane/messaging';
import {
  consumeLanes,
  createLanePublisher,
  laneHeaders,
  laneSubject,
  ORIGIN_SUBJECT_HEADER,
} from '@graylane/messaging/nats';
import { type JsMsg, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { waitFor } from './helpers';
import { lanePublisherContract, type PublisherBroker } from './lane-publisher-contract';
import { admin, contractBroker, DURABLE, natsConnection, workStream } from './nats-fixture';

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

test('nats publisher: a live lane gets a copy of the caller headers with the tag and the original subject; untagged and `expect` publishes go to the subject given', async (t) => {
  const stream = await workStream(t);
  const got: Array<{ data: string; subject: string; tag?: string; origin?: string; trace?: string }> = [];
  const record = (message: JsMsg) => {
    const h = message.headers;
    got.push({
      data: message.string(),
      subject: message.subject,
      ...(h?.has('x-mse-tag') ? { tag: h.get('x-mse-tag') } : {}),
      ...(h?.has(ORIGIN_SUBJECT_HEADER) ? { origin: h.get(ORIGIN_SUBJECT_HEADER) } : {}),
      ...(h?.has('trace') ? { trace: h.get('trace') } : {}),
    });
  };
  const options = { stream, durable: DURABLE, livenessIntervalMs: 200 };
  const base = await consumeLanes(await natsConnection(), { ...options, lane: null }, record);
  const gray = await consumeLanes(await natsConnection(), { ...options, lane: 'gray' }, record);
  const publisher = await createLanePublisher(admin, { stream, livenessIntervalMs: 200 });
  t.after(() => Promise.all([base.close(), gray.close(), publisher.close()]).then(() => undefined));
  await waitFor(
    () => publisher.liveLanes().includes('gray'),
    'the publisher reads gray live (found on the lane stream)',
  );
  resetMessageLaneCounters();

  const mine = headers();
  mine.set('trace', 't1');
  const ack = await withLane('gray', () => publisher.publish(`${stream}.work`, 'a', { headers: mine }));
  assert.equal(ack.stream, `${stream}-lanes`);
  assert.deepEqual([...mine.keys()], ['trace'], "the caller's headers are left as given");
  await withLane('gray', () => publisher.publish(`${stream}.work`, 'b', { expect: { streamName: stream } }));
  await publisher.publish(`${stream}.work`, 'c');
  await waitFor(() => got.length === 3, 'three messages handled');
  const bySubject = got.sort((x, y) => x.data.localeCompare(y.data));
  assert.deepEqual(bySubject, [
    {
      data: 'a',
      subject: laneSubject(`graylane.${stream}`, 'gray'),
      tag: 'gray',
      origin: `${stream}.work`,
      trace: 't1',
    },
    { data: 'b', subject: laneSubject(`graylane.${stream}`, 'gray'), tag: 'gray', origin: `${stream}.work` }, // moved by base
    { data: 'c', subject: `${stream}.work` },
  ]);
  assert.equal(messageLaneCounters().routed.gray, 1, 'only the `expect` publish was moved by base');

  // A lane with no live consumer: the message goes to the work stream, tagged on a copy. Tagging
  // the caller's headers would tag the next message they are reused for, in another lane or none.
  const reused = headers();
  reused.set('trace', 't2');
  await withLane('blue', () => publisher.publish(`${stream}.work`, 'd', { headers: reused }));
  assert.deepEqual([...reused.keys()], ['trace'], "the caller's headers are left as given");
  await publisher.publish(`${stream}.work`, 'e', { headers: reused });
  await waitFor(() => got.length === 5, 'five messages handled');
  const later = got
    .filter((m) => m.data === 'd' || m.data === 'e')
    .sort((x, y) => x.data.localeCompare(y.data));
  assert.deepEqual(later, [
    { data: 'd', subject: `${stream}.work`, tag: 'blue', trace: 't2' },
    { data: 'e', subject: `${stream}.work`, trace: 't2' },
  ]);
});

test('nats publisher: a lane consumer that starts after the publisher is read at once, on its announcement', async (t) => {
  const stream = await workStream(t);
  // An interval far longer than the test: only the announcement can make the publisher read gray.
  const publisher = await createLanePublisher(admin, { stream, livenessIntervalMs: 600_000 });
  t.after(() => publisher.close());
  assert.deepEqual(publisher.liveLanes(), []);
  const gray = await consumeLanes(
    await natsConnection(),
    { stream, durable: DURABLE, lane: 'gray', livenessIntervalMs: 200 },
    () => undefined,
  );
  t.after(() => gray.close());
  await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live', 10_000);
});

test('nats publisher: lane messages published without options each carry their own subject; options given never leak into later messages', async (t) => {
  const stream = await workStream(t);
  const got: Array<{ data: string; origin: string; msgId: boolean }> = [];
  const gray = await consumeLanes(
    await natsConnection(),
    { stream, durable: DURABLE, lane: 'gray', livenessIntervalMs: 200 },
    (message: JsMsg) => {
      const h = message.headers!;
      got.push({ data: message.string(), origin: h.get(ORIGIN_SUBJECT_HEADER), msgId: h.has('Nats-Msg-Id') });
    },
  );
  const publisher = await createLanePublisher(admin, { stream, livenessIntervalMs: 200 });
  t.after(() => Promise.all([gray.close(), publisher.close()]).then(() => undefined));
  await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live');

  // The lane's headers are built once per lane and subject: a new subject, and a publish with
  // options in between (whose msgID the client adds to the headers it is given), must not show in
  // the messages around them.
  await withLane('gray', async () => {
    await publisher.publish(`${stream}.work`, 'a');
    await publisher.publish(`${stream}.other`, 'b');
    await publisher.publish(`${stream}.work`, 'c', { msgID: 'm1' });
    await publisher.publish(`${stream}.work`, 'd');
    await publisher.publish(`${stream}.work`, 'e');
  });
  await waitFor(() => got.length === 5, 'five messages handled by gray');
  assert.deepEqual(
    got.sort((x, y) => x.data.localeCompare(y.data)),
    [
      { data: 'a', origin: `${stream}.work`, msgId: false },
      { data: 'b', origin: `${stream}.other`, msgId: false },
      { data: 'c', origin: `${stream}.work`, msgId: true },
      { data: 'd', origin: `${stream}.work`, msgId: false },
      { data: 'e', origin: `${stream}.work`, msgId: false },
    ],
  );
});

test('nats publisher: with the lane stream removed, a lane message goes to the subject given (no responders on the lane subject)', async (t) => {
  const stream = await workStream(t);
  const gray = await consumeLanes(
    await natsConnection(),
    { stream, durable: DURABLE, lane: 'gray', livenessIntervalMs: 200 },
    () => undefined,
  );
  const publisher = await createLanePublisher(admin, { stream, livenessIntervalMs: 200 });
  t.after(() => Promise.all([gray.close(), publisher.close()]).then(() => undefined));
  await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live');
  await (await jetstreamManager(admin)).streams.delete(`${stream}-lanes`);
  const ack = await withLane('gray', () => publisher.publish(`${stream}.work`, 'x'));
  assert.equal(ack.stream, stream, 'stored in the work stream');
});

test('laneHeaders tags a copy: headers reused for a message outside the lane do not carry it', () => {
  const reused = headers();
  reused.set('trace', 't1');
  const tagged = withLane('gray', () => laneHeaders(reused));
  assert.equal(tagged?.get('x-mse-tag'), 'gray');
  assert.equal(tagged?.get('trace'), 't1');
  assert.deepEqual([...reused.keys()], ['trace'], "the caller's headers are left as given");
  assert.equal(laneHeaders(reused), reused, 'outside a lane: returned as given');
  const own = headers();
  own.set('x-mse-tag', 'blue');
  assert.equal(
    withLane('gray', () => laneHeaders(own)),
    own,
    'a tag already there wins',
  );
});
