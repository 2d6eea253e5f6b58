// svc-c (instances c-stable and c-gray): the end of the chain, an Express service with
// laneMiddleware. It answers with the instance that served the request and the lane it ran in.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane } from '@graylane/core';
import { diagnosticsRouter, laneMiddleware } from '@graylane/express';
import express from 'express';
import { HOST, type Hop, join, openRegistry, run, self, send } from './instance';

run(async () => {
  const registry = await openRegistry();
  const app = express();
  app.use('/graylane', diagnosticsRouter({ title: `svc-c · ${self.id}`, refreshSeconds: 5 }));
  app.use(laneMiddleware());
  app.get('/walk', (req, res) => {
    const tag = req.headers['x-mse-tag'];
    const here: Hop = {
      service: 'svc-c',
      instance: self.id,
      lane: currentLane() ?? null,
      tag: typeof tag === 'string' ? tag : null,
    };
    res.json([here]);
  });

  const server = createServer(app).listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const { labels } = await join(registry, 'svc-c', port);
  send({
    type: 'listening',
    id: self.id,
    service: 'svc-c',
    host: HOST,
    port,
    labels,
    diagnostics: `http://${HOST}:${port}/graylane/`,
  });
});
