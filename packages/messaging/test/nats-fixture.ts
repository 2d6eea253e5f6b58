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

/**
 * A work stream that also holds its lane subjects (`graylane.<name>.lane.>`), for the one-stream
 * layout (`laneStream: stream`, `filterSubject: <name>.work`); deleted after the test.
 */
export async function oneStream(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const stream = uniqueName('gl-js1').replace(/[^A-Za-z0-9_-]/g, '_');
  await jsm.streams.add({ name: stream, subjects: [`${stream}.work`, `graylane.${stream}.lane.>`] });
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
  });
  return stream;
}

/** The options of one-stream consumers of `stream` (see {@link oneStream}). */
export function oneStreamOptions(stream: string): { laneStream: string; filterSubject: string } {
  return { laneStream: stream, filterSubject: `${stream}.work` };
}

function natsContract(layout: 'two' | 'one'): ContractBroker {
  return {
    broker: 'nats',
    ...(layout === 'one' ? { label: 'nats (one stream)' } : {}),
    livenessMs: LIVENESS_MS,
    async group(t): Promise<ContractGroup> {
      const stream = layout === 'one' ? await oneStream(t) : await workStream(t);
      const laneStream = layout === 'one' ? stream : `${stream}-lanes`;
      const extraOptions = layout === 'one' ? oneStreamOptions(stream) : {};
      return {
        name: stream,
        async consumer(lane, handle, extra) {
          return consumeLanes(
            await natsConnection(),
            { stream, durable: DURABLE, lane, livenessIntervalMs: LIVENESS_MS, ...extraOptions, ...extra },
            (message) => handle(message.string()),
          );
        },
        send: (id, tag, viaContext) => send(stream, id, tag, viaContext),
        flush: async () => undefined,
        async backlog(lane) {
          try {
            return (await jsm.consumers.info(laneStream, laneDurableName(DURABLE, lane))).num_pending;
          } catch {
            return 0;
          }
        },
      };
    },
  };
}

export const contractBroker: ContractBroker = natsContract('two');
/** The same contract with lanes kept in the work stream itself. */
export const oneStreamContractBroker: ContractBroker = natsContract('one');
