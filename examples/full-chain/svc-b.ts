// svc-b (instance b-stable only — there is no gray svc-b): a gRPC server whose handlers run in the
// lane of each call (laneServerInterceptor reads x-mse-tag from the metadata). It calls svc-c over
// HTTP through laneDispatcher, so a gray call — even one this stable instance serves as the
// fallback — reaches c-gray, with x-mse-tag: gray added by enablePropagation().
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane, enablePropagation } from '@graylane/core';
import { createDiscovery } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { diagnosticsRouter } from '@graylane/express';
import { laneServerInterceptor } from '@graylane/grpc';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import express from 'express';
import { request } from 'undici';
import { loadChainProto, toWire, type Walk } from './grpc-api';
import { HOST, type Hop, join, openRegistry, reportRoutes, run, self, send } from './instance';

run(async () => {
  enablePropagation();
  const registry = await openRegistry();
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery, services: ['svc-c'] });
  reportRoutes(discovery, 'svc-c');

  const server = new Server({ interceptors: [laneServerInterceptor()] });
  server.addService(loadChainProto().SvcB.service, {
    Visit(call: ServerUnaryCall<unknown, Walk>, callback: sendUnaryData<Walk>) {
      const tag = call.metadata.get('x-mse-tag')[0];
      const here: Hop = {
        service: 'svc-b',
        instance: self.id,
        lane: currentLane() ?? null,
        tag: typeof tag === 'string' ? tag : null,
      };
      request('http://svc-c/walk', { dispatcher })
        .then(async ({ statusCode, body }) => {
          const rest = (await body.json()) as Hop[];
          if (statusCode !== 200) throw new Error(`svc-c answered ${statusCode}: ${JSON.stringify(rest)}`);
          callback(null, { hops: [here, ...rest].map(toWire) });
        })
        .catch((error: unknown) => {
          callback({
            code: status.UNAVAILABLE,
            details: `svc-c: ${error instanceof Error ? error.message : error}`,
          });
        });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${HOST}:0`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });

  // gRPC has no HTML: the diagnostics page is on a small admin HTTP port.
  const admin = express();
  admin.use('/graylane', diagnosticsRouter({ discovery, title: `svc-b · ${self.id}`, refreshSeconds: 5 }));
  const adminServer = createServer(admin).listen(0, HOST);
  await once(adminServer, 'listening');
  const adminPort = (adminServer.address() as AddressInfo).port;

  const { labels } = await join(registry, 'svc-b', port);
  send({
    type: 'listening',
    id: self.id,
    service: 'svc-b',
    host: HOST,
    port,
    labels,
    diagnostics: `http://${HOST}:${adminPort}/graylane/`,
  });
});
