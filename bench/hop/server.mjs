// One hop, several variants side by side: started by hop/driver.mjs with child_process.fork.
// Each variant is its own app (Express, or Fastify for the fastify-* variants) on its own port,
// all forwarding to HOP_UPSTREAM with undici's `request()` over ONE keep-alive Pool, in the form a
// user of each variant writes:
// - hand-copy and als variants pass the Pool itself as `dispatcher` (no graylane on the way out);
// - graylane variants with automatic propagation pass no dispatcher: the request goes through the
//   GLOBAL dispatcher, which is that Pool (`setGlobalDispatcher(pool)`) with `laneInterceptor`
//   composed onto it by `enablePropagation()`, the one place automatic propagation binds the lane;
// - `graylane-interceptor` passes the Pool composed with `laneInterceptor()` itself.
// Automatic propagation is enabled for the whole process: hand-copy and als requests pass its
// `undici:request:create` guard too (outside any lane, it only reads the store for them).
// The upstream (hop/upstream.mjs) counts the lanes it receives; the driver checks that every
// variant delivered `x-mse-tag` on every request of every window, so a variant that stops
// propagating fails the run instead of measuring too little.
//   HOP_VARIANTS   comma-separated app names (see APPS)
//   HOP_UPSTREAM   http://127.0.0.1:<port> of the upstream (hop/upstream.mjs)
//   HOP_ALT_EXPRESS  comma-separated paths of other builds' packages/express/dist/index.js (say,
//                  of the main branch) for the variants `graylane-alt`, `graylane-alt2`:
//                  before/after in one process. Its
//                  @graylane/core shares this one's AsyncLocalStorage (same global key), so
//                  this process's automatic propagation carries its lanes.
// IPC: {type:'cpu', id} -> cpuUsage, and the main thread's alone (threadCpuUsage, Node 22+).
// Warnings (say, GL_WARN_UNDICI_UNINTERCEPTED) are sent to the driver as {type:'warning', code,
// message}; it fails the run on a graylane warning.
// Fastify is loaded from the repository root's dev dependencies (fastify 5), where the adapter's
// tests get it.
//   HOP_PLAIN=1    a process with no graylane at all (not loaded, no propagation enabled): serves
//                  the variants that need none (`als`, `hand-copy`, `fastify-als`, ...), the floor
//                  without graylane's process-wide costs (its diagnostics-channel subscribers see
//                  every request of a process, tagged or not). The driver names them `<variant>@plain`.
//   HOP_PLAIN=hooks  the same variants, in a process where graylane's process-wide hooks are on
//                  (`enablePropagation()`, `prebindServerRequests()`, as a service using graylane has
//                  them) but no variant uses graylane: beside HOP_PLAIN=1 (hop/callgrind.mjs --plain,
//                  --hooks), what those hooks cost the requests graylane does not handle.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { graylane, repoPath } from '../lib/graylane.mjs';

const require = createRequire(import.meta.url);
const express = require('express');
const { Dispatcher, Pool, request, setGlobalDispatcher } = require('undici');
const PLAIN = process.env.HOP_PLAIN === '1' || process.env.HOP_PLAIN === 'hooks';
const HOOKS_ONLY = process.env.HOP_PLAIN === 'hooks';
// Loaded only where graylane runs: importing it must not reach a plain process.
const lazy = (load) => {
  let value;
  return () => {
    if (PLAIN) throw new Error('this variant needs graylane: not in a HOP_PLAIN process');
    value ??= load();
    return value;
  };
};
const core = lazy(() => graylane('core'));
const express_ = lazy(() => graylane('express'));
const fastify_ = lazy(() => graylane('fastify'));
const laneMiddleware = (...args) => express_().laneMiddleware(...args);
const rootRequire = createRequire(repoPath('package.json'));

const TAG = 'x-mse-tag';
const KEEP_ALIVE_MS = 120_000;
const UPSTREAM = process.env.HOP_UPSTREAM;

process.on('disconnect', () => process.exit(0));

const handCopy = (req) => {
  const tag = req.headers[TAG];
  return tag === undefined ? undefined : { [TAG]: tag };
};
const noHeaders = () => undefined;
const storage = new AsyncLocalStorage();

// How a variant sends its hop call (see the top of this file).
const POOL = 'pool'; // the Pool itself: no graylane on the way out
const GLOBAL = 'global'; // no dispatcher option: the global dispatcher, composed by enablePropagation()
const INTERCEPTOR = 'interceptor'; // the Pool composed with laneInterceptor()
const COMPOSED = 'composed'; // the Pool composed with an interceptor that does nothing
const WRAPPED = 'wrapped'; // the Pool behind a Dispatcher subclass whose dispatch() only forwards

/**
 * Each app: its framework; its lane middleware (Express) or plugin (Fastify), or null; how the
 * Express app is served (`listen`: app.listen; `listener`: createServer(laneRequestListener(app)));
 * the outbound headers of its hop call and the dispatcher it sends through.
 */
const APPS = {
  // What a user writes by hand: read the tag, set it on the outbound call. No async context.
  'hand-copy': () => ({ framework: 'express', middleware: null, headers: handCopy, via: POOL }),
  // A bare AsyncLocalStorage.run per request, tag copied by hand: the share any ALS design pays.
  als: () => ({
    framework: 'express',
    middleware: (req, _res, next) => storage.run(req.headers[TAG], next),
    headers: handCopy,
    via: POOL,
  }),
  // graylane: laneMiddleware + automatic propagation.
  graylane: () => ({ framework: 'express', middleware: laneMiddleware(), headers: noHeaders, via: GLOBAL }),
  // Diagnostic: `als` sending through the Pool composed with an interceptor that only calls the
  // next dispatch. Against `als`: what undici's `compose()` itself costs per call (the composed
  // dispatcher is a Proxy, and the handler goes through WrapHandler and UnwrapHandler), which every
  // interceptor-based form, the global one included, pays.
  'als-compose': () => ({
    framework: 'express',
    middleware: (req, _res, next) => storage.run(req.headers[TAG], next),
    headers: handCopy,
    via: COMPOSED,
  }),
  // Diagnostic: `als` sending through a `Dispatcher` subclass (undici's public class) whose
  // `dispatch()` forwards to the Pool with the handler unchanged: no Proxy, no handler adapters.
  // Against `als-compose`: what another way of putting a wrapper before the Pool would cost.
  'als-wrapped': () => ({
    framework: 'express',
    middleware: (req, _res, next) => storage.run(req.headers[TAG], next),
    headers: handCopy,
    via: WRAPPED,
  }),
  // Diagnostic: graylane's ingress alone (laneMiddleware) with the tag copied by hand onto a call
  // through the Pool itself. Against `als` and `graylane`, splits graylane's cost into ingress and
  // outbound.
  'graylane-ingress': () => ({
    framework: 'express',
    middleware: laneMiddleware(),
    headers: handCopy,
    via: POOL,
  }),
  // graylane without the middleware: the Express app served by core's laneRequestListener, which
  // binds req/res before Express re-prototypes them; automatic propagation.
  'graylane-listener': () => ({
    framework: 'express',
    middleware: null,
    serve: 'listener',
    headers: noHeaders,
    via: GLOBAL,
  }),
  // graylane: laneMiddleware + laneInterceptor() composed on the Pool by the application.
  'graylane-interceptor': () => ({
    framework: 'express',
    middleware: laneMiddleware(),
    headers: noHeaders,
    via: INTERCEPTOR,
  }),
  // The same as `graylane`, with another build of @graylane/express (HOP_ALT_EXPRESS).
  'graylane-alt': () => alt(0),
  'graylane-alt2': () => alt(1),
  // Fastify: a bare AsyncLocalStorage.run from an onRequest hook, tag copied by hand.
  'fastify-als': () => ({
    framework: 'fastify',
    plugin: (app) =>
      app.addHook('onRequest', function alsHook(request, _reply, done) {
        storage.run(request.headers[TAG], done);
      }),
    headers: handCopy,
    via: POOL,
  }),
  // Fastify: graylane's plugin + automatic propagation.
  'fastify-graylane': () => ({
    framework: 'fastify',
    plugin: (app) => app.register(fastify_().laneFastify()),
    headers: noHeaders,
    via: GLOBAL,
  }),
};

/** `laneMiddleware` of the n-th build in HOP_ALT_EXPRESS (comma-separated paths). */
function alt(n) {
  const path = (process.env.HOP_ALT_EXPRESS ?? '').split(',')[n];
  if (!path) throw new Error(`graylane-alt${n === 0 ? '' : n + 1} needs HOP_ALT_EXPRESS`);
  return {
    framework: 'express',
    middleware: require(path).laneMiddleware(),
    headers: noHeaders,
    via: GLOBAL,
  };
}

/** A dispatcher in front of another one that forwards every call unchanged (`als-wrapped`). */
class ForwardingDispatcher extends Dispatcher {
  #inner;
  constructor(inner) {
    super();
    this.#inner = inner;
  }
  dispatch(opts, handler) {
    return this.#inner.dispatch(opts, handler);
  }
  close(...args) {
    return this.#inner.close(...args);
  }
  destroy(...args) {
    return this.#inner.destroy(...args);
  }
}

/** The hop call of a variant: `(headers) => Promise<{statusCode, text}>`. */
function forwarder(dispatcher) {
  const url = `${UPSTREAM}/`;
  return async function forward(headers) {
    const { statusCode, body } = await request(url, { method: 'GET', headers, dispatcher });
    return { statusCode, text: await body.text() };
  };
}

async function expressApp(variant, forward) {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (variant.middleware !== null) app.use(variant.middleware);
  app.get('/', async function forwardRoute(req, res) {
    const { statusCode, text } = await forward(variant.headers(req));
    res.status(statusCode).set('content-type', 'application/json').send(text);
  });
  const server =
    variant.serve === 'listener' ? createServer(core().laneRequestListener(app)) : createServer(app);
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

async function fastifyApp(variant, forward) {
  const app = rootRequire('fastify')({ keepAliveTimeout: KEEP_ALIVE_MS });
  await variant.plugin(app);
  app.get('/', async function forwardRoute(request, reply) {
    const { statusCode, text } = await forward(variant.headers(request));
    reply.code(statusCode).header('content-type', 'application/json');
    return text;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

function send(message) {
  if (process.send !== undefined) process.send(message);
}

async function main() {
  process.on('warning', (warning) => {
    send({ type: 'warning', code: warning.code ?? warning.name, message: warning.message });
  });
  const pool = new Pool(UPSTREAM, {
    connections: 16,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  });
  // What a user of automatic propagation does with a tuned pool: make it the global dispatcher
  // BEFORE enablePropagation(), which composes laneInterceptor onto it.
  setGlobalDispatcher(pool);
  if (HOOKS_ONLY) {
    const { compileIngress, enablePropagation, prebindServerRequests } = graylane('core');
    enablePropagation();
    prebindServerRequests(compileIngress()); // what laneMiddleware() sets up
  } else if (!PLAIN) core().enablePropagation();
  const dispatchers = {
    [POOL]: pool,
    [GLOBAL]: undefined,
    [INTERCEPTOR]: PLAIN ? undefined : pool.compose(core().laneInterceptor()),
    [WRAPPED]: new ForwardingDispatcher(pool),
    [COMPOSED]: pool.compose(
      (dispatch) =>
        function passThrough(opts, handler) {
          return dispatch(opts, handler);
        },
    ),
  };
  const ports = {};
  for (const name of process.env.HOP_VARIANTS.split(',')) {
    const make = APPS[name];
    if (make === undefined) throw new Error(`unknown app ${name}`);
    const variant = make();
    const forward = forwarder(dispatchers[variant.via]);
    ports[name] =
      variant.framework === 'fastify'
        ? await fastifyApp(variant, forward)
        : await expressApp(variant, forward);
  }
  process.on('message', (message) => {
    if (message.type === 'cpu')
      send({ type: 'cpu', id: message.id, cpu: process.cpuUsage(), thread: process.threadCpuUsage?.() });
  });
  send({ type: 'ready', ports });
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  setImmediate(() => process.exit(1));
});
