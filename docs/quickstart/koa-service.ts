import { currentLane, enablePropagation } from '@graylane/core';
import { laneKoa } from '@graylane/koa';
import Koa from 'koa';

enablePropagation(); // outbound fetch / undici / node:http / axios calls carry x-mse-tag

const app = new Koa();
app.use(laneKoa()); // every later middleware runs in the request's lane, across await next()
app.use(async (ctx) => {
  const stock = await fetch(`${process.env.INVENTORY_URL}/stock`); // sent with this request's lane
  ctx.body = { lane: currentLane() ?? 'base', stock: await stock.json() };
});
app.listen(Number(process.env.PORT ?? 8080));
