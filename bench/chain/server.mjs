// One hop of the benchmark chain edge -> a -> b, started by chain/driver.mjs with child_process.fork.
//   BENCH_ROLE      edge | a | b      (edge and a forward to BENCH_UPSTREAM; b answers)
//   BENCH_VARIANT   one of VARIANTS below; every hop of a chain runs the same variant
//   BENCH_UPSTREAM  http://127.0.0.1:<port> of the next hop (edge and a only)
//   BENCH_POOL      connections of the undici keep-alive pool to the next hop
// b answers {"lane": <x-mse-tag it received, else the x-mse-tag entry of `baggage`, else null>}, so
// the driver can check that each variant really carries the lane to the last hop (it fails the run
// when one does not).
// Every hop call is undici's `request()` over one keep-alive Pool, in the form a user of the
// variant writes: `{ dispatcher: pool }` for the variants without graylane on the way out; for
// `graylane-auto` no dispatcher, i.e. the GLOBAL dispatcher, which is that Pool
// (`setGlobalDispatcher(pool)`) with laneInterceptor composed onto it by `enablePropagation()`;
// for `graylane-interceptor`, the Pool composed with `laneInterceptor()`.
// IPC: {type:'cpu', id} -> {type:'cpu', id, cpu: process.cpuUsage(), rss}; {type:'close'} -> exit.
import { createRequire } from 'node:module';
import { graylane } from '../lib/graylane.mjs';

const require = createRequire(import.meta.url);
const ROLE = process.env.BENCH_ROLE;
const VARIANT = process.env.BENCH_VARIANT;
const UPSTREAM = process.env.BENCH_UPSTREAM;
const POOL_CONNECTIONS = Number(process.env.BENCH_POOL || 16);
const TAG = 'x-mse-tag';
const KEEP_ALIVE_MS = 120_000;

process.on('disconnect', () => process.exit(0)); // never outlive the driver

// OpenTelemetry must patch http and express before they are first required.
const otel = VARIANT === 'otel' ? (await import('./otel.mjs')).setupOpenTelemetry() : undefined;

const express = require('express');
const { Pool, request, setGlobalDispatcher } = require('undici');

const NO_HEADERS = undefined;

/**
 * Each variant, given the hop's Pool (null at b): middleware for every hop, outbound headers of a
 * hop call, the dispatcher of the hop call (undefined: the global one).
 */
const VARIANTS = {
  // No propagation: the physical limit of this chain.
  bare: (pool) => ({ middleware: null, headers: () => NO_HEADERS, dispatcher: pool }),
  // What a user writes by hand: read the tag from the request, set it on the outbound call.
  'hand-copy': (pool) => ({
    middleware: null,
    headers: (req) => {
      const tag = req.headers[TAG];
      return tag === undefined ? NO_HEADERS : { [TAG]: tag };
    },
    dispatcher: pool,
  }),
  // graylane: lane middleware + automatic propagation, no code in handlers. The hop's Pool is the
  // global dispatcher, set BEFORE enablePropagation(), which composes laneInterceptor onto it.
  'graylane-auto': (pool) => {
    const { enablePropagation } = graylane('core');
    const { laneMiddleware } = graylane('express');
    if (pool !== null) setGlobalDispatcher(pool);
    enablePropagation();
    return { middleware: laneMiddleware(), headers: () => NO_HEADERS, dispatcher: undefined };
  },
  // Diagnostic, not in the default list: graylane's ingress alone (lane middleware) with the
  // hand-written copy for the outbound header. Splits graylane's cost into ingress and outbound.
  'graylane-ingress-only': (pool) => {
    const { laneMiddleware } = graylane('express');
    return { middleware: laneMiddleware(), headers: VARIANTS['hand-copy'](pool).headers, dispatcher: pool };
  },
  // graylane: lane middleware + laneInterceptor() composed on the hop pool (no global hooks).
  'graylane-interceptor': (pool) => {
    const { laneInterceptor } = graylane('core');
    const { laneMiddleware } = graylane('express');
    return {
      middleware: laneMiddleware(),
      headers: () => NO_HEADERS,
      dispatcher: pool === null ? null : pool.compose(laneInterceptor()),
    };
  },
  // OpenTelemetry: http + express + undici instrumentations carry `traceparent` and `baggage`; the
  // edge puts the lane it receives in x-mse-tag into the baggage, later hops only forward baggage.
  otel: (pool) => ({ middleware: otel.laneToBaggage, headers: () => NO_HEADERS, dispatcher: pool }),
  // cls-hooked: a namespace entered per request (the express-http-context pattern), the tag read from
  // it on the outbound call.
  'cls-hooked': (pool) => {
    const { createNamespace } = require('cls-hooked');
    const ns = createNamespace('graylane-bench');
    return {
      middleware: function clsLane(req, res, next) {
        ns.bindEmitter(req);
        ns.bindEmitter(res);
        ns.run(() => {
          ns.set(TAG, req.headers[TAG]);
          next();
        });
      },
      headers: () => {
        const tag = ns.get(TAG);
        return tag === undefined ? NO_HEADERS : { [TAG]: tag };
      },
      dispatcher: pool,
    };
  },
};

function send(message) {
  if (process.send !== undefined) process.send(message);
}

function laneFromBaggage(baggage) {
  if (typeof baggage !== 'string') return undefined;
  for (const member of baggage.split(',')) {
    const eq = member.indexOf('=');
    if (eq > 0 && member.slice(0, eq).trim() === TAG)
      return decodeURIComponent(
        member
          .slice(eq + 1)
          .split(';')[0]
          .trim(),
      );
  }
  return undefined;
}

async function main() {
  const make = VARIANTS[VARIANT];
  if (make === undefined) throw new Error(`unknown variant ${VARIANT}`);
  const pool =
    ROLE === 'b'
      ? null
      : new Pool(UPSTREAM, {
          connections: POOL_CONNECTIONS,
          keepAliveTimeout: KEEP_ALIVE_MS,
          keepAliveMaxTimeout: KEEP_ALIVE_MS,
        });
  const variant = make(pool);

  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (variant.middleware !== null) app.use(variant.middleware);

  if (ROLE === 'b') {
    app.get('/', function answer(req, res) {
      const lane = req.headers[TAG] ?? laneFromBaggage(req.headers.baggage);
      res
        .set('content-type', 'application/json')
        .send(`{"lane":${lane === undefined ? 'null' : JSON.stringify(lane)}}`);
    });
  } else {
    const url = `${UPSTREAM}/`;
    const dispatcher = variant.dispatcher;
    const headersFor = variant.headers;
    app.get('/', async function forward(req, res) {
      const { statusCode, body } = await request(url, {
        method: 'GET',
        headers: headersFor(req),
        dispatcher,
      });
      const text = await body.text();
      res.status(statusCode).set('content-type', 'application/json').send(text);
    });
  }

  const server = app.listen(0, '127.0.0.1', (err) => {
    if (err) throw err;
    send({ type: 'ready', port: server.address().port });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;

  process.on('message', (message) => {
    if (message.type === 'cpu') {
      send({ type: 'cpu', id: message.id, cpu: process.cpuUsage(), rss: process.memoryUsage.rss() });
    } else if (message.type === 'close') {
      server.closeAllConnections();
      server.close();
      const closing = pool === null ? Promise.resolve() : pool.destroy();
      closing.finally(() => process.exit(0));
    }
  });
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  setImmediate(() => process.exit(1));
});
