// laneEdge against the shared edge suite (test/helpers/edge-conformance.ts) on Express 5 and 4,
// plus what is Express's own: a proxy re-sending req.headers, and Express's reading of the URL.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { currentLane } from '@graylane/core';
import { laneEdge } from '@graylane/express';
import express5 from 'express';
import express4 from 'express4';
import { edgeConformance, HEADER_CHANGES, seenInLane } from '../../../test/helpers/edge-conformance';
import { listen } from '../../../test/helpers/listen';

type Express = typeof express5;

edgeConformance<Express>({
  name: 'laneEdge',
  create: laneEdge,
  versions: [
    ['express 5', express5],
    ['express 4', express4 as unknown as Express],
  ],
  async start(t, make, options) {
    const app = make();
    app.use(laneEdge(options));
    app.use(async (req: import('express').Request, res: import('express').Response) => {
      res.json(await seenInLane(req.headers));
    });
    const port = await listen(createServer(app), t);
    return `http://127.0.0.1:${port}`;
  },
});

test('setHeaders, addHeaders and removeHeaders change req.headers; a proxy re-sending them carries the lane', async (t) => {
  const upstream = createServer((req, res) => res.end(JSON.stringify(req.headers)));
  const upstreamPort = await listen(upstream, t);
  const app = express5();
  app.use(laneEdge({ rules: HEADER_CHANGES }));
  // A minimal proxy: forwards req.headers as they are after the edge.
  app.use((req, res) => {
    const out = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers: req.headers },
      (up) => up.pipe(res),
    );
    out.end();
  });
  const port = await listen(createServer(app), t);
  const res = await fetch(`http://127.0.0.1:${port}/proxy/x`, {
    headers: { 'x-trace': 'client', 'x-debug': '1', 'x-mse-tag': 'forged' },
  });
  const forwarded = (await res.json()) as IncomingHttpHeaders;
  assert.equal(forwarded['x-mse-tag'], 'gray');
  assert.equal(forwarded['x-env'], 'canary');
  assert.equal(forwarded['x-trace'], 'client, edge');
  assert.equal(forwarded['x-debug'], undefined);
});

test('a query inside the fragment is no query: the edge and Express agree', async (t) => {
  const app = express5();
  app.use(
    laneEdge({ rules: [{ lane: 'gray', matches: [{ queryParams: [{ name: 'lane', value: 'gray' }] }] }] }),
  );
  app.use((req: import('express').Request, res: import('express').Response) => {
    res.json({ lane: currentLane() ?? null, query: req.query, path: req.path });
  });
  const port = await listen(createServer(app), t);
  const ask = (path: string) =>
    new Promise<{ lane: string | null; query: Record<string, string>; path: string }>((resolve, reject) => {
      const out = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(JSON.parse(body)));
      });
      out.on('error', reject);
      out.end();
    });
  assert.deepEqual(await ask('/y#?lane=gray'), { lane: null, query: {}, path: '/y' });
  assert.deepEqual(await ask('/y?a=1#?lane=gray'), { lane: null, query: { a: '1' }, path: '/y' });
  assert.deepEqual(await ask('/y?lane=gray#x'), { lane: 'gray', query: { lane: 'gray' }, path: '/y' });
});
