// A 3-hop HTTP chain edge -> a -> b on loopback. Every hop runs laneMiddleware(); the handlers
// call the next hop with plain fetch() and no lane code: enablePropagation() carries the lane.
// Prints the lane seen at each hop for a tagged, an untagged and an invalid-tag request, and
// exits non-zero if any hop saw the wrong lane.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane, enablePropagation } from '@graylane/core';
import { laneMiddleware } from '@graylane/express';
import express from 'express';

interface Seen {
  hop: string;
  lane: string | null;
  next?: Seen;
}

const HOPS = ['edge', 'a', 'b'] as const;

async function startHop(name: string, next: string | undefined): Promise<{ server: Server; url: string }> {
  const app = express();
  app.use(laneMiddleware());
  app.get('/', async (_req, res, fail) => {
    try {
      const seen: Seen = { hop: name, lane: currentLane() ?? null };
      if (next !== undefined) seen.next = (await (await fetch(next)).json()) as Seen;
      res.json(seen);
    } catch (error) {
      fail(error);
    }
  });
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

async function main(): Promise<number> {
  const propagation = enablePropagation();
  const servers: Server[] = [];
  let next: string | undefined;
  for (const name of [...HOPS].reverse()) {
    const hop = await startHop(name, next);
    servers.push(hop.server);
    next = hop.url;
  }
  const edge = next!;
  const cases: Array<{ label: string; headers: Record<string, string>; expected: string | null }> = [
    { label: 'tagged (x-mse-tag: gray)', headers: { 'x-mse-tag': 'gray' }, expected: 'gray' },
    { label: 'untagged', headers: {}, expected: null },
    { label: 'invalid tag (x-mse-tag: -bad)', headers: { 'x-mse-tag': '-bad' }, expected: null },
  ];
  let wrong = 0;
  try {
    for (const { label, headers, expected } of cases) {
      const seen = (await (await fetch(edge, { headers })).json()) as Seen;
      const cells: string[] = [];
      for (let hop: Seen | undefined = seen; hop !== undefined; hop = hop.next) {
        const ok = hop.lane === expected;
        if (!ok) wrong++;
        cells.push(`${hop.hop}=${hop.lane ?? '(base)'}${ok ? '' : ' WRONG'}`);
      }
      console.log(`${label.padEnd(30)} ${cells.join('  ->  ')}`);
    }
  } finally {
    propagation.disable();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  }
  if (wrong > 0) console.error(`${wrong} hop(s) saw the wrong lane`);
  else console.log('every hop saw the expected lane');
  return wrong === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
