// Message lanes on RabbitMQ: edge -> order-api (HTTP) publishes `order.created` to the `orders`
// queue -> fulfillment (a stable and a gray consumer) -> inventory over HTTP through discovery.
// Prints the walk of each order, stops gray fulfillment half-way (gray orders then go to stable
// fulfillment, still tagged gray, so gray inventory gets them), and exits non-zero when any hop
// is wrong or an untagged order reached a gray instance.
//
//   npx tsc -b && node --import tsx examples/mq-lanes/main.ts
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane, enablePropagation } from '@graylane/core';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { laneEdge, laneMiddleware } from '@graylane/express';
import {
  consumeLanes,
  createLanePublisher,
  laneQueueName,
  presenceQueueName,
} from '@graylane/messaging/amqp';
import amqplib from 'amqplib';
import express from 'express';
import { fetch } from 'undici';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const LIVENESS_MS = 250;

interface Walk {
  order: string;
  edge?: string;
  orderApi?: string;
  fulfillment?: string;
  inventory?: string;
}

const walks = new Map<string, Walk>();
const servers: Server[] = [];

async function serve(app: express.Express): Promise<number> {
  const server = createServer(app).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function lane(value: string | undefined | null): string {
  return value ?? '(base)';
}

/** An inventory instance: records which instance got the order and the lane it carried. */
async function inventory(instance: string): Promise<number> {
  const app = express();
  app.use(laneMiddleware());
  app.post('/reserve/:order', (req, res) => {
    const walk = walks.get(req.params.order);
    if (walk !== undefined) walk.inventory = `${instance} [${lane(currentLane())}]`;
    res.end('reserved');
  });
  return serve(app);
}

export async function runMqLanes(log: (line: string) => void = console.log): Promise<number> {
  const propagation = enablePropagation();
  const connection = await amqplib.connect(AMQP_URL);
  const queue = `orders-${process.pid}-${Date.now().toString(36)}`;
  const admin = await connection.createConfirmChannel();
  await admin.assertQueue(queue, { durable: false });

  const discovery = createDiscovery({
    registry: staticRegistry({
      instances: [
        { service: 'inventory', host: '127.0.0.1', port: await inventory('inventory-stable') },
        {
          service: 'inventory',
          host: '127.0.0.1',
          port: await inventory('inventory-gray'),
          labels: { 'alicloud.service.tag': 'gray' },
        },
      ],
    }),
  });
  await discovery.ready('inventory');
  const dispatcher = laneDispatcher({ discovery });

  // fulfillment: the same handler in a stable and a gray instance; no lane code in it.
  const fulfillment = (instance: string) => async (message: amqplib.ConsumeMessage) => {
    const order = message.content.toString();
    const walk = walks.get(order);
    if (walk !== undefined) walk.fulfillment = `${instance} [${lane(currentLane())}]`;
    await (await fetch(`http://inventory/reserve/${order}`, { method: 'POST', dispatcher })).text();
  };
  const stable = await consumeLanes(
    connection,
    { queue, lane: null, livenessIntervalMs: LIVENESS_MS },
    fulfillment('fulfillment-stable'),
  );
  let gray = await consumeLanes(
    connection,
    { queue, lane: 'gray', livenessIntervalMs: LIVENESS_MS },
    fulfillment('fulfillment-gray'),
  );

  // order-api: publishes order.created in the request's lane — straight to the gray queue while a
  // gray consumer lives, else to the work queue.
  const publisher = await createLanePublisher(connection, { queue, livenessIntervalMs: LIVENESS_MS });
  const orderApi = express();
  orderApi.use(laneMiddleware());
  orderApi.post('/orders/:order', (req, res) => {
    const walk = walks.get(req.params.order);
    if (walk !== undefined) walk.orderApi = `order-api [${lane(currentLane())}]`;
    publisher.sendToQueue(Buffer.from(req.params.order), { persistent: false });
    publisher.waitForConfirms().then(
      () => res.status(202).end(),
      () => res.status(503).end(),
    );
  });
  const orderApiPort = await serve(orderApi);

  // edge: beta users enter lane gray; everyone else stays in base.
  const edge = express();
  edge.use(
    laneEdge({
      rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'x-user', type: 'Exact', value: 'beta' }] }] }],
    }),
  );
  edge.post('/checkout/:order', async (req, res) => {
    const walk = walks.get(req.params.order);
    if (walk !== undefined) walk.edge = `edge [${lane(currentLane())}]`;
    const r = await fetch(`http://127.0.0.1:${orderApiPort}/orders/${req.params.order}`, { method: 'POST' });
    res.status(r.status).end();
  });
  const edgePort = await serve(edge);

  let wrong = 0;
  let n = 0;
  async function order(user: string, expected: Omit<Walk, 'order'>): Promise<void> {
    const id = `order-${++n}`;
    const walk: Walk = { order: id };
    walks.set(id, walk);
    await fetch(`http://127.0.0.1:${edgePort}/checkout/${id}`, {
      method: 'POST',
      headers: user === 'beta' ? { 'x-user': 'beta' } : {},
    });
    const deadline = Date.now() + 20_000;
    while (walk.inventory === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const ok = (Object.keys(expected) as Array<keyof typeof expected>).every((k) => walk[k] === expected[k]);
    if (!ok) wrong++;
    log(
      `${id} (${user.padEnd(6)}) ${walk.edge} -> ${walk.orderApi} -> ${walk.fulfillment} -> ${walk.inventory}${ok ? '' : '  WRONG'}`,
    );
  }

  try {
    log('gray fulfillment running:');
    await order('beta', {
      fulfillment: 'fulfillment-gray [gray]',
      inventory: 'inventory-gray [gray]',
    });
    await order('alice', {
      fulfillment: 'fulfillment-stable [(base)]',
      inventory: 'inventory-stable [(base)]',
    });

    await gray.close();
    await new Promise((r) => setTimeout(r, 2 * LIVENESS_MS)); // base consumers notice within one interval
    log('gray fulfillment stopped (stable fulfillment takes gray orders, still tagged gray):');
    await order('beta', {
      fulfillment: 'fulfillment-stable [gray]',
      inventory: 'inventory-gray [gray]',
    });
    await order('alice', {
      fulfillment: 'fulfillment-stable [(base)]',
      inventory: 'inventory-stable [(base)]',
    });

    gray = await consumeLanes(
      connection,
      { queue, lane: 'gray', livenessIntervalMs: LIVENESS_MS },
      fulfillment('fulfillment-gray'),
    );
    await new Promise((r) => setTimeout(r, 2 * LIVENESS_MS));
    log('gray fulfillment back:');
    await order('beta', { fulfillment: 'fulfillment-gray [gray]', inventory: 'inventory-gray [gray]' });
    await order('alice', {
      fulfillment: 'fulfillment-stable [(base)]',
      inventory: 'inventory-stable [(base)]',
    });

    const leaked = [...walks.values()].filter(
      (w) => w.edge === 'edge [(base)]' && (w.fulfillment?.includes('gray') || w.inventory?.includes('gray')),
    );
    if (leaked.length > 0) wrong += leaked.length;
    log(
      leaked.length === 0
        ? 'untagged orders never reached a gray instance'
        : `${leaked.length} untagged order(s) reached gray`,
    );
  } finally {
    await Promise.allSettled([publisher.close(), gray.close(), stable.close()]);
    const cleanup = await connection.createChannel();
    for (const name of [queue, laneQueueName(queue, 'gray'), presenceQueueName(queue, 'gray')]) {
      await cleanup.deleteQueue(name).catch(() => undefined);
    }
    await connection.close();
    await discovery.close();
    await (dispatcher as { close(): Promise<void> }).close();
    propagation.disable();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  }
  log(wrong === 0 ? 'every hop as expected' : `${wrong} wrong hop(s)`);
  return wrong === 0 ? 0 : 1;
}

if (require.main === module) {
  runMqLanes().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
