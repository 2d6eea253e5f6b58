// After the edge, every carrier of the lane says the lane the edge decided, or nothing (issue 13
// item 2): edge (Express + laneEdge, trust allowlist) -> service that reads the lane from the
// header (graylane) and from OpenTelemetry baggage. The edge forwards the request three ways a
// gateway does: re-sending `req.headers`, re-sending `req.rawHeaders`, and through
// OpenTelemetry's own propagation of the context its HTTP instrumentation extracted.
import assert from 'node:assert/strict';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import { test } from 'node:test';
import { currentLane, enableOpenTelemetryBridge } from '@graylane/core';
import { laneEdge, laneMiddleware } from '@graylane/express';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import express from 'express';
import { type Reply, readBody } from './helpers/http-call';
import { listen } from './helpers/listen';

interface Seen {
  /** The lane graylane's middleware gave the service's handler. */
  lane: string | null;
  /** `x-mse-tag` as the service received it. */
  header: string | null;
  /** The lane entry of the baggage OpenTelemetry extracts on the service. */
  otel: string | null;
  baggage: string | null;
  raw: string[];
}

// Sends a request whose headers are given raw: duplicates and case variants reach the server as
// sent. `trailers` makes it a chunked request with those trailers.
function send(port: number, path: string, raw: string[], trailers?: string[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Raw headers: Node adds nothing, not even Host.
    const headers = ['Host', '127.0.0.1', ...raw];
    if (trailers !== undefined) headers.push('Transfer-Encoding', 'chunked');
    const method = trailers === undefined ? 'GET' : 'POST';
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
    });
    req.on('error', reject);
    if (trailers !== undefined) {
      req.write('body');
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
      req.addTrailers(pairs);
    }
    req.end();
  });
}

function forward(
  port: number,
  req: IncomingMessage,
  headers: OutgoingHttpHeaders | string[],
): Promise<string> {
  return new Promise((resolve, reject) => {
    const out = request({ host: '127.0.0.1', port, path: '/', method: 'GET', headers }, (res) => {
      readBody(res).then(resolve, reject);
    });
    out.on('error', reject);
    out.end();
    req.resume();
  });
}

function lanesOf(seen: Seen): Set<string> {
  const lanes = new Set<string>();
  if (seen.lane !== null) lanes.add(seen.lane);
  if (seen.header !== null) lanes.add(seen.header);
  if (seen.otel !== null) lanes.add(seen.otel);
  for (let i = 0; i < seen.raw.length; i += 2) {
    if (seen.raw[i]!.toLowerCase() === 'x-mse-tag') lanes.add(seen.raw[i + 1]!);
  }
  return lanes;
}

test('after the edge, every carrier says the lane the edge decided, or nothing', async (t) => {
  assert.equal(context.setGlobalContextManager(new AsyncLocalStorageContextManager()), true);
  assert.equal(propagation.setGlobalPropagator(new W3CBaggagePropagator()), true);
  let bridge = enableOpenTelemetryBridge();
  t.after(() => {
    bridge.disable();
    context.disable();
    propagation.disable();
  });

  // The service: graylane's middleware (header, then baggage) and OpenTelemetry's extraction.
  const service = express();
  service.use(laneMiddleware());
  service.get('/', (req, res) => {
    const baggage = propagation.getBaggage(propagation.extract(ROOT_CONTEXT, req.headers));
    const seen: Seen = {
      lane: currentLane() ?? null,
      header: (req.headers['x-mse-tag'] as string | undefined) ?? null,
      otel: baggage?.getEntry('x-mse-tag')?.value ?? null,
      baggage: (req.headers.baggage as string | undefined) ?? null,
      raw: req.rawHeaders,
    };
    res.json(seen);
  });
  const servicePort = await listen(createServer(service), t);

  // The edge: allowlist trust, one rule; it forwards in the way the path names.
  const edge = express();
  edge.use(
    laneEdge({
      trust: { allowlist: ['gray'] },
      rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'x-user', value: 'qa' }] }] }],
    }),
  );
  edge.all('/headers', async (req, res) => {
    const { host: _host, 'transfer-encoding': _te, 'content-length': _cl, ...headers } = req.headers;
    res.end(await forward(servicePort, req, headers));
  });
  edge.all('/raw', async (req, res) => {
    const raw: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase();
      if (name === 'transfer-encoding' || name === 'content-length') continue;
      raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    res.end(await forward(servicePort, req, raw));
  });
  // OpenTelemetry-instrumented client: only what the active context injects.
  edge.all('/otel', async (req, res) => {
    const headers: Record<string, string> = {};
    propagation.inject(context.active(), headers);
    res.end(await forward(servicePort, req, headers));
  });
  edge.all('/trailers', (req, res) => {
    req.resume();
    req.on('end', () =>
      res.json({ trailers: req.trailers, raw: req.rawTrailers, lane: currentLane() ?? null }),
    );
  });
  // As OpenTelemetry's HTTP server instrumentation does: the context is extracted from the
  // client's headers before any middleware runs.
  const edgeServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    context.with(propagation.extract(ROOT_CONTEXT, req.headers), () => edge(req, res));
  });
  const edgePort = await listen(edgeServer, t);

  // [client headers, the lane the edge must decide]
  const cases: ReadonlyArray<readonly [string[], string | null]> = [
    [['x-mse-tag', 'gray', 'baggage', 'userId=1,x-mse-tag=feature-x'], 'gray'],
    [['x-mse-tag', 'feature-x', 'baggage', 'userId=1,x-mse-tag=feature-x'], null],
    [['baggage', 'userId=1,x-mse-tag=feature-x'], null],
    [['x-user', 'qa', 'baggage', 'x-mse-tag=feature-x'], 'gray'],
    [['x-user', 'qa', 'x-mse-tag', 'feature-x'], 'gray'],
    [['X-MSE-TAG', 'gray', 'x-mse-tag', 'feature-x'], null],
    // The same value twice is unambiguous (core's ingress reads repeats that agree as one value).
    [['x-mse-tag', 'gray', 'X-Mse-Tag', 'gray'], 'gray'],
    [['x-mse-tag', 'gray,feature-x'], null],
    [['x-mse-tag', 'gray', 'Baggage', 'a=1', 'baggage', 'X-MSE-TAG=feature-x'], 'gray'],
    [['x-mse-tag', 'gray', 'baggage', ' x-mse-tag \t= feature-x , a=1'], 'gray'],
    [['x-mse-tag', 'gray', 'baggage', 'x%2Dmse-tag=feature-x'], 'gray'],
    [['x-mse-tag', 'gray', 'baggage', 'x-mse-tag=feature-x;p=1,x-mse-tag=gray'], 'gray'],
  ];
  const runs = [
    ['/headers', 'forwarded as req.headers'],
    ['/raw', 'forwarded as req.rawHeaders'],
    ['/otel', 'forwarded by OpenTelemetry propagation'],
    ['/otel', 'forwarded by OpenTelemetry propagation, bridge without readActiveBaggage'],
  ] as const;
  for (const [path, name] of runs) {
    await t.test(name, async () => {
      if (name.endsWith('readActiveBaggage')) {
        // The base lane must still be entered so that the bridge drops the extracted entry.
        bridge.disable();
        bridge = enableOpenTelemetryBridge({ readActiveBaggage: false });
      }
      for (const [headers, lane] of cases) {
        const label = `${path} ${JSON.stringify(headers)}`;
        const reply = await send(edgePort, path, headers);
        assert.equal(reply.status, 200, `${label}: ${reply.body}`);
        const seen = JSON.parse(reply.body) as Seen;
        assert.deepEqual([...lanesOf(seen)], lane === null ? [] : [lane], label);
        if (path !== '/otel') assert.equal(seen.header, lane, `${label}: the lane header`);
        assert.equal(seen.otel, path === '/otel' || seen.otel !== null ? lane : null, `${label}: baggage`);
        if (headers.includes('userId=1,x-mse-tag=feature-x')) {
          assert.match(seen.baggage ?? '', /(^|,)userId=1(,|$)/, `${label}: other members travel on`);
        }
      }
    });
  }

  await t.test('a lane in a trailer is removed when the body ends; it never decides', async () => {
    const reply = await send(
      edgePort,
      '/trailers',
      ['x-user', 'qa'],
      ['X-Mse-Tag', 'feature-x', 'baggage', 'a=1,x-mse-tag=feature-x', 'x-other', 'kept'],
    );
    assert.equal(reply.status, 200, reply.body);
    const seen = JSON.parse(reply.body) as { trailers: Record<string, string>; raw: string[]; lane: string };
    assert.equal(seen.lane, 'gray');
    assert.deepEqual(seen.trailers, { baggage: 'a=1', 'x-other': 'kept' });
    assert.deepEqual(seen.raw, ['baggage', 'a=1', 'x-other', 'kept']);
  });
});
