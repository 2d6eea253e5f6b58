// The OpenKruise full-link gray TrafficRouting at a graylane edge: `User-Agent: foo` enters the gray
// lane and gets `x-mse-tag: gray`; the gateway proxies to service a, which reads the lane the usual
// way (laneMiddleware). Run: npx tsx examples/kruise-full-link/index.ts
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane } from '@graylane/core';
import { laneEdge, laneMiddleware } from '@graylane/express';
import { rulesFromKruiseTrafficRouting } from '@graylane/rules';
import express from 'express';
import { parse } from 'yaml';

export const TRAFFIC_ROUTING = `
apiVersion: rollouts.kruise.io/v1alpha1
kind: TrafficRouting
metadata:
  name: mse-traffic
spec:
  objectRef:
    - service: spring-cloud-a
      ingress:
        classType: mse
        name: spring-cloud-a
  strategy:
    matches:
      - headers:
          - type: Exact
            name: User-Agent
            value: foo
    requestHeaderModifier:
      set:
        - name: x-mse-tag
          value: gray
`;

export interface KruiseHop {
  readonly userAgent: string;
  /** The lane the gateway's handler ran in. */
  readonly gatewayLane: string | null;
  /** What service a received in x-mse-tag. */
  readonly tagAtA: string | null;
  /** The lane service a's handler ran in. */
  readonly laneAtA: string | null;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Starts service a and the gateway on free ports, sends one request per User-Agent, stops both. */
export async function runKruiseFullLink(
  userAgents: readonly string[] = ['foo', 'bar'],
): Promise<KruiseHop[]> {
  // Service a: an ordinary graylane service.
  const a = express();
  a.use(laneMiddleware());
  a.get('/hello', (req, res) => {
    res.json({ tagAtA: req.headers['x-mse-tag'] ?? null, laneAtA: currentLane() ?? null });
  });
  const aServer = createServer(a);
  const aPort = await listen(aServer);

  // The gateway: edge rules from the TrafficRouting, then a plain proxy that re-sends req.headers.
  const gateway = express();
  gateway.use(laneEdge({ rules: rulesFromKruiseTrafficRouting(parse(TRAFFIC_ROUTING)) }));
  gateway.use((req, res) => {
    const gatewayLane = currentLane() ?? null;
    const upstream = httpRequest(
      { host: '127.0.0.1', port: aPort, path: req.url, method: req.method, headers: req.headers },
      async (up) => {
        let body = '';
        for await (const chunk of up) body += chunk;
        res.json({ gatewayLane, ...JSON.parse(body) });
      },
    );
    upstream.on('error', (err) => res.status(502).json({ error: err.message }));
    upstream.end();
  });
  const gatewayServer = createServer(gateway);
  const gatewayPort = await listen(gatewayServer);

  try {
    const hops: KruiseHop[] = [];
    for (const userAgent of userAgents) {
      const res = await fetch(`http://127.0.0.1:${gatewayPort}/hello`, {
        headers: { 'user-agent': userAgent },
      });
      hops.push({ userAgent, ...((await res.json()) as Omit<KruiseHop, 'userAgent'>) });
    }
    return hops;
  } finally {
    for (const server of [gatewayServer, aServer]) {
      server.closeAllConnections();
      server.close();
    }
  }
}

if (require.main === module) {
  runKruiseFullLink().then((hops) => {
    for (const h of hops) {
      console.log(
        `User-Agent: ${h.userAgent.padEnd(4)} gateway lane=${h.gatewayLane}  a got x-mse-tag=${h.tagAtA}  a lane=${h.laneAtA}`,
      );
    }
  });
}
