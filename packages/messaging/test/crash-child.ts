// A gray lane consumer in its own process, spawned (and killed with SIGKILL) by crash-contract.ts.
// CRASH_BROKER picks the subpath, CRASH_OPTIONS (JSON) are its `consumeLanes` options; each
// message's handler calls the downstream (CRASH_DOWNSTREAM) as CRASH_BY. It loads and connects,
// prints "loaded", and calls `consumeLanes` when it reads "start" on stdin, then prints "ready".
// The handler takes CRASH_WORK_MS (half before the downstream call, half after), so the process
// holds messages at the kill: some not yet handled, some handled but not acked. Only the broker's
// own subpath and client are loaded; no fixture is imported (they register node:test hooks).
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { enablePropagation } from '@graylane/core';
import { callDownstream } from './helpers';
import { REDIS } from './redis-client';

const options = JSON.parse(process.env.CRASH_OPTIONS!) as never;
const url = process.env.CRASH_DOWNSTREAM!;
const by = process.env.CRASH_BY!;
const work = Number(process.env.CRASH_WORK_MS ?? 0) / 2;
const sleep = () => new Promise((r) => setTimeout(r, work));
const handle = async (id: string) => {
  await sleep();
  await callDownstream(url, id, by);
  await sleep();
};

/** Loads the broker's subpath and client and connects; returns what starts consuming. */
async function load(broker: string | undefined): Promise<() => Promise<unknown>> {
  switch (broker) {
    case 'amqp': {
      const [{ consumeLanes }, { default: amqplib }] = await Promise.all([
        import('@graylane/messaging/amqp'),
        import('amqplib'),
      ]);
      const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
      return () => consumeLanes(connection, options, (m) => handle(m.properties.messageId as string));
    }
    case 'redis-streams': {
      const [{ consumeLanes }, { Redis }] = await Promise.all([
        import('@graylane/messaging/redis-streams'),
        import('ioredis'),
      ]);
      const redis = new Redis(REDIS);
      return () => consumeLanes(redis, options, (e) => handle(e.fields[e.fields.indexOf('id') + 1]!));
    }
    case 'nats': {
      const [{ consumeLanes }, { connect }] = await Promise.all([
        import('@graylane/messaging/nats'),
        import('@nats-io/transport-node'),
      ]);
      const nc = await connect({ servers: '127.0.0.1:4222', reconnect: false });
      return () => consumeLanes(nc, options, (m) => handle(m.string()));
    }
    case 'bullmq': {
      const { consumeLanes } = await import('@graylane/messaging/bullmq');
      return () => consumeLanes(options, (job) => handle((job.data as { id: string }).id));
    }
    default:
      throw new Error(`unknown CRASH_BROKER ${broker}`);
  }
}

async function main(): Promise<void> {
  enablePropagation();
  const start = await load(process.env.CRASH_BROKER);
  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => process.exit(0)); // the test process is gone: do not linger
  console.log('loaded');
  while ((await once(lines, 'line'))[0] !== 'start');
  await start();
  console.log('ready');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
