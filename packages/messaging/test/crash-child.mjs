// A gray lane consumer in its own process, spawned (and killed with SIGKILL) by crash-contract.ts.
// Plain JavaScript, run without a TypeScript loader: it boots several times faster on a loaded
// machine. CRASH_BROKER picks the subpath, CRASH_OPTIONS (JSON) are its `consumeLanes` options;
// each message's handler calls the downstream (CRASH_DOWNSTREAM) as CRASH_BY. It loads and
// connects, prints "loaded", calls `consumeLanes` when it reads "start" on stdin, prints "ready".
// The handler takes CRASH_WORK_MS (half before the downstream call, half after), so the process
// holds messages at the kill: some not yet handled, some handled but not acked.
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { enablePropagation } from '@graylane/core';

const options = JSON.parse(process.env.CRASH_OPTIONS);
const url = process.env.CRASH_DOWNSTREAM;
const by = process.env.CRASH_BY;
const work = Number(process.env.CRASH_WORK_MS ?? 0) / 2;
const sleep = () => new Promise((r) => setTimeout(r, work));

/** As helpers.ts callDownstream: the handler's outbound HTTP call, carrying the message's lane. */
async function handle(id) {
  await sleep();
  const res = await fetch(`${url}?id=${encodeURIComponent(id)}&by=${by}`);
  await res.text();
  await sleep();
}

/** Loads the broker's subpath and client and connects; returns what starts consuming. */
async function load(broker) {
  switch (broker) {
    case 'amqp': {
      const [{ consumeLanes }, { default: amqplib }] = await Promise.all([
        import('@graylane/messaging/amqp'),
        import('amqplib'),
      ]);
      const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
      return () => consumeLanes(connection, options, (m) => handle(m.properties.messageId));
    }
    case 'redis-streams': {
      const [{ consumeLanes }, { Redis }] = await Promise.all([
        import('@graylane/messaging/redis-streams'),
        import('ioredis'),
      ]);
      const redis = new Redis({ host: '127.0.0.1', port: 6379 });
      return () => consumeLanes(redis, options, (e) => handle(e.fields[e.fields.indexOf('id') + 1]));
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
      return () => consumeLanes(options, (job) => handle(job.data.id));
    }
    default:
      throw new Error(`unknown CRASH_BROKER ${broker}`);
  }
}

try {
  enablePropagation();
  const start = await load(process.env.CRASH_BROKER);
  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => process.exit(0)); // the test process is gone: do not linger
  console.log('loaded');
  while ((await once(lines, 'line'))[0] !== 'start');
  await start();
  console.log('ready');
} catch (error) {
  console.error(error);
  process.exit(1);
}
