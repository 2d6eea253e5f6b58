import { after, before } from 'node:test';
import { enablePropagation, withLane } from '@graylane/core';
import { consumeLanes, laneDurableName, laneHeaders } from '@graylane/messaging/nats';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { brokerOrFail, uniqueName } from './helpers';
import type { ContractBroker, ContractGroup } from './lane-contract';

export const LIVENESS_MS = 200;
export const DURABLE = 'workers';
export const connections: NatsConnection[] = [];

export async function natsConnection(): Promise<NatsConnection> {
  const nc = await brokerOrFail(
    'NATS',
    '127.0.0.1:4222',
    'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js ...',
    () => connect({ servers: '127.0.0.1:4222', reconnect: false, timeout: 5000 }),
  );
  connections.push(nc);
  return nc;
}

export let admin: NatsConnection;
export let js: JetStreamClient;
export let jsm: JetStreamManager;
export const propagation = enablePropagation();

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
export async function workStream(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const stream = uniqueName('gl-js').replace(/[^A-Za-z0-9_-]/g, '_');
  await jsm.streams.add({ name: stream, subjects: [`${stream}.work`] });
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await jsm.streams.delete(`${stream}-lanes`).catch(() => undefined);
  });
  return stream;
}

export async function send(
  stream: string,
  id: number,
  tag: string | undefined,
  viaContext: boolean,
): Promise<void> {
  const data = String(id);
  if (tag !== undefined && viaContext) {
    await withLane(tag, () => js.publish(`${stream}.work`, data, { headers: laneHeaders() }));
    return;
  }
  const h = headers();
  if (tag !== undefined) h.set('x-mse-tag', tag);
  await js.publish(`${stream}.work`, data, { headers: h });
}

export const contractBroker: ContractBroker = {
  broker: 'nats',
  livenessMs: LIVENESS_MS,
  async group(t): Promise<ContractGroup> {
    const stream = await workStream(t);
    return {
      name: stream,
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
};
