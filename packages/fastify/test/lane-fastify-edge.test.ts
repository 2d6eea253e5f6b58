// laneFastifyEdge against the shared edge suite (test/helpers/edge-conformance.ts) on Fastify 5 and 4.
import type { AddressInfo } from 'node:net';
import { laneFastifyEdge } from '@graylane/fastify';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';
import { edgeConformance, seenInLane } from '../../../test/helpers/edge-conformance';

type Factory = typeof fastify5;

edgeConformance<Factory>({
  name: 'laneFastifyEdge',
  create: laneFastifyEdge,
  versions: [
    ['fastify 5', fastify5],
    ['fastify 4', fastify4 as unknown as Factory],
  ],
  async start(t, make, options) {
    const app = make();
    app.register(laneFastifyEdge(options));
    app.all('/*', (request) => seenInLane(request.headers));
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  },
});
