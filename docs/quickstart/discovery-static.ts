import { currentLane, enablePropagation } from '@graylane/core';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { laneMiddleware } from '@graylane/express';
import express from 'express';
import { request } from 'undici';

enablePropagation();
const discovery = createDiscovery({ registry: staticRegistry({ file: 'instances.yaml' }) }); // reloaded on change
const dispatcher = laneDispatcher({ discovery }); // http://<service>/... -> an instance of the current lane

const app = express().use(laneMiddleware());
app.get('/checkout', async (_req, res) => {
  const { body } = await request('http://inventory/stock', { dispatcher }); // gray instance in lane gray, else stable
  res.json({ lane: currentLane() ?? 'base', stock: await body.json() });
});
discovery.ready('inventory').then(() => app.listen(Number(process.env.PORT ?? 8080)));
