// One hop, several variants side by side: started by hop/driver.mjs with child_process.fork.
// Each variant is its own app (Express, or Fastify for the fastify-* variants) on its own port,
// all forwarding over one undici Pool to HOP_UPSTREAM. Automatic propagation is enabled for the
// whole process (hand-copy and als requests are outside any graylane context, so the undici hook
// only reads the store for them).
//   HOP_VARIANTS   comma-separated app names (see APPS)
//   HOP_UPSTREAM   http://127.0.0.1:<port> of the upstream (hop/upstream.mjs)
//   HOP_ALT_EXPRESS  comma-separated paths of other builds' packages/express/dist/index.js (say,
//                  of the main branch) for the variants `graylane-alt`, `graylane-alt2`:
//                  before/after in one process. Its
//                  @graylane/core shares this one's AsyncLocalStorage (same global key), so
//                  this process's automatic propagation carries its lanes.
// IPC: {type:'cpu', id} -> cpuUsage.
// Fastify is loaded from the repository root's dev dependencies (fastify 5), where the adapter's
// tests get it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { graylane, repoPath } from '../lib/graylane.mjs';

const require = createRequire(import.meta.url);
const express = require('express');
const { Pool } = require('undici');
const { enablePropagation } = graylane('core');
const { laneMiddleware } = graylane('express');
const rootRequire = createRequire(repoPath('package.json'));

const TAG = 'x-mse-tag';
const KEEP_ALIVE_MS = 120_000;

process.on('disconnect', () => process.exit(0));

const handCopy = (req) => {
  const tag = req.headers[TAG];
  return tag === undefined ? undefined : { [TAG]: tag };
};
const noHeaders = () => undefined;
const storage = new AsyncLocalStorage();

/** Each app: its framework, its lane middleware or hook (or null), the outbound headers of its hop call. */
const APPS = {
  // What a user writes by hand: read the tag, set it on the outbound call. No async context.
  'hand-copy': () => ({ framework: 'express', middleware: null, headers: handCopy }),
  // A bare AsyncLocalStorage.run per request, tag copied by hand: the share any ALS design pays.
  als: () => ({
    framework: 'express',
    middleware: (req, _res, next) => storage.run(req.headers[TAG], next),
    headers: handCopy,
  }),
  // graylane: laneMiddleware + automatic propagation.
  graylane: () => ({ framework: 'express', middleware: laneMiddleware(), headers: noHeaders }),
  // The same, with another build of @graylane/express (HOP_ALT_EXPRESS).
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
  }),
  // Fastify: graylane's plugin + automatic propagation.
  'fastify-graylane': () => ({
    framework: 'fastify',
    plugin: (app) => app.register(graylane('fastify').laneFastify()),
    headers: noHeaders,
  }),
};

/** `laneMiddleware` of the n-th build in HOP_ALT_EXPRESS (comma-separated paths). */
function alt(n) {
  const path = (process.env.HOP_ALT_EXPRESS ?? '').split(',')[n];
  if (!path) throw new Error(`graylane-alt${n === 0 ? '' : n + 1} needs HOP_ALT_EXPRESS`);
  return { framework: 'express', middleware: require(path).laneMiddleware(), headers: noHeaders };
}

async function forward(pool, headers) {
  const { statusCode, body } = await pool.request({ method: 'GET', path: '/', headers });
  return { statusCode, text: await body.text() };
}

async function expressApp(variant, pool) {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (variant.middleware !== null) app.use(variant.middleware);
  app.get('/', async function forwardRoute(req, res) {
    const { statusCode, text } = await forward(pool, variant.headers(req));
    res.status(statusCode).set('content-type', 'application/json').send(text);
  });
  const server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

async function fastifyApp(variant, pool) {
  const app = rootRequire('fastify')({ keepAliveTimeout: KEEP_ALIVE_MS });
  await variant.plugin(app);
  app.get('/', async function forwardRoute(request, reply) {
    const { statusCode, text } = await forward(pool, variant.headers(request));
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
  enablePropagation();
  const pool = new Pool(process.env.HOP_UPSTREAM, {
    connections: 16,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  });
  const ports = {};
  for (const name of process.env.HOP_VARIANTS.split(',')) {
    const make = APPS[name];
    if (make === undefined) throw new Error(`unknown app ${name}`);
    const variant = make();
    ports[name] =
      variant.framework === 'fastify' ? await fastifyApp(variant, pool) : await expressApp(variant, pool);
  }
  process.on('message', (message) => {
    if (message.type === 'cpu') send({ type: 'cpu', id: message.id, cpu: process.cpuUsage() });
  });
  send({ type: 'ready', ports });
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  setImmediate(() => process.exit(1));
});
