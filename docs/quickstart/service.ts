import { currentLane, enablePropagation } from '@graylane/core';
import { laneMiddleware } from '@graylane/express';
import express from 'express';

enablePropagation(); // outbound fetch / undici / node:http / axios calls carry x-mse-tag

const app = express();
app.use(laneMiddleware()); // each request runs in its lane: x-mse-tag, else W3C baggage
app.get('/checkout', async (_req, res) => {
  const stock = await fetch(`${process.env.INVENTORY_URL}/stock`); // sent with this request's lane
  res.json({ lane: currentLane() ?? 'base', stock: await stock.json() });
});
app.listen(Number(process.env.PORT ?? 8080));
