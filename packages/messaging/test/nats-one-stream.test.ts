// The one-stream layout: lane subjects kept in the work stream itself (`laneStream: stream`), as a
// layout routed by hand would keep them; the same contract as the default layout, plus its checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currentLane, withLane } from '@graylane/core';
import { consumeLanes, createLanePublisher, laneSubject } from '@graylane/messaging/nats';
import { AckPolicy } from '@nats-io/jetstream';
import { waitFor } from './helpers';
import { laneContract } from './lane-contract';
import {
  admin,
  DURABLE,
  jsm,
  natsConnection,
  oneStream,
  oneStreamContractBroker,
  oneStreamOptions,
} from './nats-fixture';

laneContract(oneStreamContractBroker, ['handoff', 'strict']);

test('nats (one stream): a live lane is published into the work stream on its lane subject and handled in its lane; untagged by base; no lane stream is made', async (t) => {
  const stream = await oneStream(t);
  const options = { stream, durable: DURABLE, livenessIntervalMs: 200, ...oneStreamOptions(stream) };
  const got: Array<[string, string, string | undefined]> = [];
  const base = await consumeLanes(await natsConnection(), { ...options, lane: null }, (m) => {
    got.push(['base', m.string(), currentLane()]);
  });
  const gray = await consumeLanes(await natsConnection(), { ...options, lane: 'gray' }, (m) => {
    got.push(['gray', m.string(), currentLane()]);
  });
  const publisher = await createLanePublisher(admin, {
    stream,
    laneStream: stream,
    livenessIntervalMs: 200,
  });
  t.after(() => Promise.all([base.close(), gray.close(), publisher.close()]).then(() => undefined));
  await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live');

  const ack = await withLane('gray', () => publisher.publish(`${stream}.work`, 'a'));
  assert.equal(ack.stream, stream, 'stored in the work stream');
  await publisher.publish(`${stream}.work`, 'b');
  await waitFor(() => got.length === 2, 'two messages handled');
  assert.deepEqual(got.sort(), [
    ['base', 'b', undefined],
    ['gray', 'a', 'gray'],
  ]);
  const stored = await jsm.streams.getMessage(stream, { seq: ack.seq });
  assert.equal(stored?.subject, laneSubject(`graylane.${stream}`, 'gray'));
  await assert.rejects(jsm.streams.info(`${stream}-lanes`), 'no lane stream of its own');
});

test('nats (one stream): a layout that would route lanes wrongly fails at start, with the option to fix', async (t) => {
  const nc = await natsConnection();
  const rejectsWith = (path: string, start: Promise<unknown>, what: string) =>
    assert.rejects(
      start,
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      what,
    );
  const handler = () => undefined;

  // No filter, or one that matches the lane subjects: the base durable would take lane messages.
  const stream = await oneStream(t);
  await rejectsWith(
    'filterSubject',
    consumeLanes(nc, { stream, durable: 'd', laneStream: stream }, handler),
    'no filterSubject',
  );
  await rejectsWith(
    'filterSubject',
    consumeLanes(
      nc,
      { stream, durable: 'd', laneStream: stream, filterSubject: `graylane.${stream}.>` },
      handler,
    ),
    'a filter over the lane subjects',
  );
  // An existing base durable keeps its own filter: one without any is refused too.
  await jsm.consumers.add(stream, { durable_name: 'old', ack_policy: AckPolicy.Explicit });
  await rejectsWith(
    'durable',
    consumeLanes(nc, { stream, durable: 'old', ...oneStreamOptions(stream) }, handler),
    'an existing durable over the whole stream',
  );

  // The stream does not capture the lane subjects: lane messages would have nowhere to go.
  const plain = `${stream}_plain`;
  await jsm.streams.add({ name: plain, subjects: [`${plain}.work`] });
  t.after(() => jsm.streams.delete(plain).then(() => undefined));
  await rejectsWith(
    'laneStream',
    consumeLanes(nc, { stream: plain, durable: 'd', ...oneStreamOptions(plain) }, handler),
    'lane subjects not captured',
  );

  // The stream captures the presence subjects too: JetStream would answer every liveness request.
  const wide = `${stream}_wide`;
  await jsm.streams.add({ name: wide, subjects: [`${wide}.work`, `graylane.${wide}.>`] });
  t.after(() => jsm.streams.delete(wide).then(() => undefined));
  await rejectsWith(
    'laneStream',
    consumeLanes(nc, { stream: wide, durable: 'd', ...oneStreamOptions(wide) }, handler),
    'presence subjects captured',
  );
  // None of the refused starts left a consumer behind.
  const durables: string[] = [];
  for await (const info of jsm.consumers.list(stream)) durables.push(info.name);
  assert.deepEqual(durables, ['old']);
});
