// The edge (gateway / BFF): laneEdge assigns each request its lane by rules — the OpenKruise
// `User-Agent: foo` rule and 30% of users by `x-user-id` — keeps a client's own `x-mse-tag: gray`
// (allowlist) and strips every other tag. It then calls svc-a through laneDispatcher, which picks
// an svc-a instance of the request's lane (else stable); enablePropagation() adds x-mse-tag.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane, enablePropagation } from '@graylane/core';
import { createDiscovery } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { diagnosticsRouter, laneEdge } from '@graylane/express';
import { compileRules } from '@graylane/rules';
import express from 'express';
import { request } from 'undici';
import { HOST, type Hop, openRegistry, reportRoutes, run, self, send } from './instance';
import { EDGE_RULES, EDGE_TRUST } from './topology';

run(async () => {
  enablePropagation();
  const registry = await openRegistry();
  const discovery = createDiscovery({ registry });
  const dispatcher = laneDispatcher({ discovery, services: ['svc-a'] });
  reportRoutes(discovery, 'svc-a');

  // One compiled rule set: laneEdge applies it, the diagnostics page shows it with its hit counts.
  const rules = compileRules(EDGE_RULES);
  const app = express();
  // Before laneEdge, so diagnostics requests are not counted as traffic.
  app.use(
    '/graylane',
    diagnosticsRouter({ discovery, rules, trust: EDGE_TRUST, title: 'edge', refreshSeconds: 5 }),
  );
  app.use(laneEdge({ rules, trust: EDGE_TRUST }));
  app.get('/walk', async (_req, res) => {
    const lane = currentLane() ?? null;
    try {
      const { statusCode, body } = await request('http://svc-a/walk', { dispatcher });
      const rest = (await body.json()) as Hop[] | { error: string };
      if (statusCode !== 200 || !Array.isArray(rest))
        throw new Error(`svc-a answered ${statusCode}: ${JSON.stringify(rest)}`);
      const hops: Hop[] = [{ service: 'edge', instance: self.id, lane, tag: null }, ...rest];
      res.json({ lane, hops });
    } catch (error) {
      res.status(502).json({ lane, error: error instanceof Error ? error.message : String(error) });
    }
  });

  const server = createServer(app).listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  send({
    type: 'listening',
    id: self.id,
    service: null,
    host: HOST,
    port,
    labels: {},
    diagnostics: `http://${HOST}:${port}/graylane/`,
  });
});
