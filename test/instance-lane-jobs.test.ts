// The instance lane (issue 15 §1) end to end: a gray instance's interval job, started outside any
// request with enableInstanceLane() on, reaches the gray instance of its downstream through
// discovery and tags what it publishes on every broker with gray; a stable instance's reaches
// stable and publishes untagged. Each instance is its own process (the instance lane is per process).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqplib from 'amqplib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { brokerOrFail, uniqueName } from '../packages/messaging/test/helpers';
import { listen } from './helpers/listen';

const root = join(__dirname, '..');

function runInstance(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/instance-job.ts'], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('instance lane: a gray instance interval job reaches gray downstreams and publishes gray; a stable one, stable and untagged', async (t) => {
  const seen: Array<{ instance: string; from: string | null; tag: string | undefined }> = [];
  const inventory = async (instance: string) =>
    listen(
      createServer((req, res) => {
        const tag = req.headers['x-mse-tag'];
        seen.push({
          instance,
          from: new URL(req.url ?? '/', 'http://x').searchParams.get('from'),
          tag: typeof tag === 'string' ? tag : undefined,
        });
        res.end('ok');
      }),
      t,
    );
  const stablePort = await inventory('inventory-stable');
  const grayPort = await inventory('inventory-gray');

  const amqp = await brokerOrFail('RabbitMQ', '127.0.0.1:5672', 'rabbitmq-server -detached', () =>
    amqplib.connect('amqp://guest:guest@127.0.0.1:5672'),
  );
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await brokerOrFail('Redis', '127.0.0.1:6379', 'redis-server --daemonize yes ...', () => redis.connect());
  const nc = await brokerOrFail('NATS', '127.0.0.1:4222', 'start-stop-daemon ... nats-server -js', () =>
    natsConnect({ servers: '127.0.0.1:4222', reconnect: false }),
  );
  const jsm = await jetstreamManager(nc);
  const names = {
    AMQP_QUEUE: uniqueName('gl-job'),
    REDIS_STREAM: uniqueName('gl-job'),
    NATS_STREAM: uniqueName('gl-job').replace(/[^A-Za-z0-9_-]/g, '_'),
    BULL_QUEUE: uniqueName('gl-job'),
  };
  const natsSubject = `${names.NATS_STREAM}.jobs`;
  const channel = await amqp.createChannel();
  await channel.assertQueue(names.AMQP_QUEUE, { durable: false });
  await jsm.streams.add({ name: names.NATS_STREAM, subjects: [natsSubject] });
  const bull = new Queue(names.BULL_QUEUE, { connection: { host: '127.0.0.1', port: 6379 } });
  t.after(async () => {
    await channel.deleteQueue(names.AMQP_QUEUE).catch(() => undefined);
    await amqp.close();
    await redis.del(names.REDIS_STREAM);
    redis.disconnect();
    await jsm.streams.delete(names.NATS_STREAM).catch(() => undefined);
    await nc.close();
    await bull.obliterate({ force: true }).catch(() => undefined);
    await bull.close();
  });

  const common = {
    INVENTORY_STABLE_PORT: String(stablePort),
    INVENTORY_GRAY_PORT: String(grayPort),
    AMQP_QUEUE: names.AMQP_QUEUE,
    REDIS_STREAM: names.REDIS_STREAM,
    NATS_SUBJECT: natsSubject,
    BULL_QUEUE: names.BULL_QUEUE,
  };
  const gray = await runInstance({ ...common, INSTANCE_NAME: 'fulfillment-gray', GRAYLANE_LANE: 'gray' });
  assert.equal(gray.code, 0, gray.out);
  const stable = await runInstance({ ...common, INSTANCE_NAME: 'fulfillment-stable', GRAYLANE_LANE: '' });
  assert.equal(stable.code, 0, stable.out);

  assert.deepEqual(
    seen.sort((a, b) => String(a.from).localeCompare(String(b.from))),
    [
      { instance: 'inventory-gray', from: 'fulfillment-gray', tag: 'gray' },
      { instance: 'inventory-stable', from: 'fulfillment-stable', tag: undefined },
    ],
  );

  const published: Record<string, Record<string, unknown>> = { amqp: {}, redis: {}, nats: {}, bullmq: {} };
  for (
    let m = await channel.get(names.AMQP_QUEUE, { noAck: true });
    m !== false;
    m = await channel.get(names.AMQP_QUEUE, { noAck: true })
  ) {
    published.amqp![m.content.toString()] = m.properties.headers?.['x-mse-tag'];
  }
  for (const [, fields] of await redis.xrange(names.REDIS_STREAM, '-', '+')) {
    const tag = fields.indexOf('x-mse-tag');
    published.redis![fields[fields.indexOf('from') + 1]!] = tag === -1 ? undefined : fields[tag + 1];
  }
  for (let seq = 1; seq <= 2; seq++) {
    const m = await jsm.streams.getMessage(names.NATS_STREAM, { seq });
    published.nats![m!.string()] = m!.header?.has('x-mse-tag') ? m!.header.get('x-mse-tag') : undefined;
  }
  for (const job of await bull.getWaiting()) {
    const data = job.data as { from: string; 'x-mse-tag'?: string };
    published.bullmq![data.from] = data['x-mse-tag'];
  }
  for (const broker of Object.keys(published)) {
    assert.deepEqual(
      published[broker],
      { 'fulfillment-gray': 'gray', 'fulfillment-stable': undefined },
      broker,
    );
  }
});
