// svc-a (instances a-stable and a-gray): Express + laneMiddleware, so each request runs in its
// lane. It calls svc-b over gRPC through ONE lane-aware channel, `graylane:///svc-b`: the client
// interceptor writes the lane into the call's metadata and the channel's picker sends the call to
// an svc-b instance of that lane — there is no gray svc-b, so a gray call falls back to b-stable
// and still carries x-mse-tag: gray.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane, enablePropagation } from '@graylane/core';
import { createDiscovery } from '@graylane/discovery';
import { diagnosticsRouter, laneMiddleware } from '@graylane/express';
import { laneClientInterceptor, registerLaneChannel } from '@graylane/grpc';
import { credentials } from '@grpc/grpc-js';
import express from 'express';
import { loadChainProto, type SvcBClient, toHop } from './grpc-api';
import { HOST, type Hop, join, openRegistry, reportRoutes, run, self, send } from './instance';

/** Deadline of the call to svc-b. */
const CALL_TIMEOUT_MS = 5_000;

run(async () => {
  enablePropagation(); // any HTTP call a handler makes carries the lane too
  const registry = await openRegistry();
  const discovery = createDiscovery({ registry });
  registerLaneChannel({ discovery });
  reportRoutes(discovery, 'svc-b');
  const { SvcB } = loadChainProto();
  const svcB = new SvcB('graylane:///svc-b', credentials.createInsecure(), {
    interceptors: [laneClientInterceptor()],
  }) as unknown as SvcBClient;

  const app = express();
  app.use('/graylane', diagnosticsRouter({ discovery, title: `svc-a · ${self.id}`, refreshSeconds: 5 }));
  app.use(laneMiddleware());
  app.get('/walk', (req, res) => {
    const here: Hop = {
      service: 'svc-a',
      instance: self.id,
      lane: currentLane() ?? null,
      tag: typeof req.headers['x-mse-tag'] === 'string' ? req.headers['x-mse-tag'] : null,
    };
    svcB.Visit({}, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, walk) => {
      if (error || walk === undefined) {
        res.status(502).json({ error: `svc-b: ${error?.message ?? 'no reply'}` });
        return;
      }
      res.json([here, ...walk.hops.map(toHop)]);
    });
  });

  const server = createServer(app).listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const { labels } = await join(registry, 'svc-a', port);
  send({
    type: 'listening',
    id: self.id,
    service: 'svc-a',
    host: HOST,
    port,
    labels,
    diagnostics: `http://${HOST}:${port}/graylane/`,
  });
});
