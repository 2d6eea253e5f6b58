// One hop, several variants side by side: started by hop/driver.mjs with child_process.fork.
// Each variant is its own Express app on its own port, all forwarding over one undici Pool to
// HOP_UPSTREAM. Automatic propagation is enabled for the whole process (hand-copy and als requests
// are outside any graylane context, so the undici hook only reads the store for them).
//   HOP_VARIANTS   comma-separated app names (see APPS)
//   HOP_UPSTREAM   http://127.0.0.1:<port> of the upstream (hop/upstream.mjs)
// IPC: {type:'placement', value} -> sets the event placement; {type:'cpu', id} -> cpuUsage.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { graylane, repoPath } from '../lib/graylane.mjs';

const require = createRequire(import.meta.url);
const express = require('express');
const { Pool } = require('undici');
const { enablePropagation } = graylane('core');
const { laneMiddleware } = graylane('express');
// Internal: lets the driver compare the two event placements in one process.
const { setEventPlacement } = require(repoPath('packages/express/dist/internal/request-events.js'));

const TAG = 'x-mse-tag';
const KEEP_ALIVE_MS = 120_000;

process.on('disconnect', () => process.exit(0));

const handCopy = (req) => {
  const tag = req.headers[TAG];
  return tag === undefined ? undefined : { [TAG]: tag };
};
const noHeaders = () => undefined;
const storage = new AsyncLocalStorage();

/** Each app: its middleware (or null) and the outbound headers of its hop call. */
const APPS = {
  // What a user writes by hand: read the tag, set it on the outbound call. No async context.
  'hand-copy': () => ({ middleware: null, headers: handCopy }),
  // A bare AsyncLocalStorage.run per request, tag copied by hand: the share any ALS design pays.
  als: () => ({ middleware: (req, _res, next) => storage.run(req.headers[TAG], next), headers: handCopy }),
  // graylane: laneMiddleware + automatic propagation.
  graylane: () => ({ middleware: laneMiddleware(), headers: noHeaders }),
};

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
    const { middleware, headers } = make();
    const app = express();
    app.set('etag', false);
    app.set('x-powered-by', false);
    if (middleware !== null) app.use(middleware);
    app.get('/', async function forward(req, res) {
      const { statusCode, body } = await pool.request({ method: 'GET', path: '/', headers: headers(req) });
      const text = await body.text();
      res.status(statusCode).set('content-type', 'application/json').send(text);
    });
    const server = app.listen(0, '127.0.0.1');
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    await new Promise((resolve) => server.once('listening', resolve));
    ports[name] = server.address().port;
  }
  process.on('message', (message) => {
    if (message.type === 'placement') {
      setEventPlacement(message.value);
      send({ type: 'placement', id: message.id });
    } else if (message.type === 'cpu') {
      send({ type: 'cpu', id: message.id, cpu: process.cpuUsage() });
    }
  });
  send({ type: 'ready', ports });
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  setImmediate(() => process.exit(1));
});
