import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import { consumeLanes, laneDurableName, laneHeaders } from '@graylane/messaging/nats';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { brokerOrFail, uniqueName, waitFor } from './helpers';
import { type ContractGroup, laneContract } from './lane-contract';

const LIVENESS_MS = 200;
const DURABLE = 'workers';
const connections: NatsConnection[] = [];

async function natsConnection(): Promise<NatsConnection> {
  const nc = await brokerOrFail(
    'NATS',
    '127.0.0.1:4222',
    'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js ...',
    () => connect({ servers: '127.0.0.1:4222', reconnect: false, timeout: 5000 }),
  );
  connections.push(nc);
  return nc;
}

let admin: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const propagation = enablePropagation();

before(async () => {
  admin = await natsConnection();
  js = jetstream(admin);
  jsm = await jetstreamManager(admin);
});

after(async () => {
  propagation.disable();
  for (const nc of connections) await nc.close().catch(() => undefined);
});

/** A work stream (subject `<name>.work`), deleted with its lane stream after the test. */
async function workStream(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const stream = uniqueName('gl-js').replace(/[^A-Za-z0-9_-]/g, '_');
  await jsm.streams.add({ name: stream, subjects: [`${stream}.work`] });
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await jsm.streams.delete(`${stream}-lanes`).catch(() => undefined);
  });
  return stream;
}

async function send(stream: string, id: number, tag: string | undefined, viaContext: boolean): Promise<void> {
  const data = String(id);
  if (tag !== undefined && viaContext) {
    await withLane(tag, () => js.publish(`${stream}.work`, data, { headers: laneHeaders() }));
    return;
  }
  const h = headers();
  if (tag !== undefined) h.set('x-mse-tag', tag);
  await js.publish(`${stream}.work`, data, { headers: h });
}

laneContract({
  broker: 'nats',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<ContractGroup> {
    const stream = await workStream(t);
    return {
      async consumer(lane, handle, extra) {
        return consumeLanes(
          await natsConnection(),
          { stream, durable: DURABLE, lane, livenessIntervalMs: LIVENESS_MS, ...extra },
          (message) => handle(message.string()),
        );
      },
      send: (id, tag, viaContext) => send(stream, id, tag, viaContext),
      flush: async () => undefined,
      async backlog(lane) {
        try {
          return (await jsm.consumers.info(`${stream}-lanes`, laneDurableName(DURABLE, lane))).num_pending;
        } catch {
          return 0;
        }
      },
    };
  },
});

test('nats: a handler runs in its message lane — publishing again from it carries the lane', async (t) => {
  const stream = await workStream(t);
  const got: Array<[string, string | undefined]> = [];
  const sub = admin.subscribe(`${stream}.out`, {
    callback: (_e, m) => {
      got.push([m.string(), m.headers?.has('x-mse-tag') ? m.headers.get('x-mse-tag') : undefined]);
    },
  });
  t.after(() => sub.unsubscribe());
  const relay = await consumeLanes(
    await natsConnection(),
    { stream, durable: DURABLE, lane: null },
    (message) => {
      admin.publish(`${stream}.out`, message.data, { headers: laneHeaders() });
    },
  );
  t.after(() => relay.close());
  await send(stream, 1, 'feature-x', false);
  await send(stream, 2, undefined, false);
  await waitFor(() => got.length === 2, 'relayed messages');
  assert.deepEqual(got.sort(), [
    ['1', 'feature-x'],
    ['2', undefined],
  ]);
});

test('nats: options are validated at setup', async () => {
  const nc = await natsConnection();
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ durable: 'd' }, 'stream'],
    [{ stream: 's' }, 'durable'],
    [{ stream: 's', durable: 'd', lane: 'a/b' }, 'lane'],
    [{ stream: 's', durable: 'd', laneStream: 's' }, 'laneStream'],
    [{ stream: 's', durable: 'd', subjectPrefix: 'a.>' }, 'subjectPrefix'],
    [{ stream: 's', durable: 'd', batch: 0 }, 'batch'],
  ];
  for (const [options, path] of bad) {
    await assert.rejects(
      consumeLanes(nc, options as never, () => undefined),
      (err: { code?: string; path?: string }) => err.code === 'GL_ERR_INVALID_OPTION' && err.path === path,
      path,
    );
  }
});
