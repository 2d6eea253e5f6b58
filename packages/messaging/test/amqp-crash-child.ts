// A gray lane consumer in its own process, killed with SIGKILL by amqp-crash.test.ts. Each
// message's handler calls the downstream (DOWNSTREAM) as `gray`.
import { enablePropagation } from '@graylane/core';
import { consumeLanes } from '@graylane/messaging/amqp';
import amqplib from 'amqplib';
import { callDownstream } from './helpers';

async function main(): Promise<void> {
  enablePropagation();
  const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
  await consumeLanes(
    connection,
    { queue: process.env.QUEUE!, lane: 'gray', livenessIntervalMs: 200 },
    (message) => callDownstream(process.env.DOWNSTREAM!, message.properties.messageId as string, 'gray'),
  );
  console.log('ready');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
