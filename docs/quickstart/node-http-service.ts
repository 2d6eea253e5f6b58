import { createServer } from 'node:http';
import { currentLane, enablePropagation, laneRequestListener } from '@graylane/core';

enablePropagation(); // outbound fetch / undici / node:http / axios calls carry x-mse-tag

const server = createServer(
  laneRequestListener(async (_req, res) => {
    const stock = await fetch(`${process.env.INVENTORY_URL}/stock`); // sent with this request's lane
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ lane: currentLane() ?? 'base', stock: await stock.json() }));
  }),
);
server.listen(Number(process.env.PORT ?? 8080));
