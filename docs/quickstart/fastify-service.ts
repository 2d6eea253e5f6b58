import { currentLane, enablePropagation } from '@graylane/core';
import { laneFastify } from '@graylane/fastify';
import fastify from 'fastify';

enablePropagation(); // outbound fetch / undici / node:http / axios calls carry x-mse-tag

const app = fastify();
app.register(laneFastify()); // each request runs in its lane from onRequest to onResponse
app.get('/checkout', async () => {
  const stock = await fetch(`${process.env.INVENTORY_URL}/stock`); // sent with this request's lane
  return { lane: currentLane() ?? 'base', stock: await stock.json() };
});
app.listen({ port: Number(process.env.PORT ?? 8080) });
