import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Agent, createServer, IncomingMessage, ServerResponse } from 'node:http';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import {
  currentLane,
  currentLaneContext,
  ingressCounters,
  laneRequestListener,
  resetIngressCounters,
  withLane,
} from '@graylane/core';
import { laneMiddleware } from '@graylane/express';
import express5 from 'express';
import express4 from 'express4';
import { call } from '../../../test/helpers/http-call';
import { listen } from '../../../test/helpers/listen';

type Factory = typeof express5;
const EXPRESSES: ReadonlyArray<readonly [string, Factory]> = [
  ['express 5', express5],
  ['express 4', express4 as Factory],
];

/** Middleware that reads the body itself and continues from the request's 'end' event. */
function continueOnEnd(req: IncomingMessage, _res: unknown, next: () => void): void {
  req.resume();
  req.on('end', () => next());
}

async function start(t: TestContext, app: express5.Express): Promise<number> {
  return listen(createServer(app), t);
}

const lane = (): string => currentLane() ?? '(base)';

for (const [name, express] of EXPRESSES) {
  test(`${name}: the handler runs in the request's lane; untagged and invalid run in the base lane`, async (t) => {
    const app = express();
    app.use(laneMiddleware());
    app.get('/', async (_req, res) => {
      await sleep(1);
      res.send(lane());
    });
    const port = await start(t, app);
    assert.equal((await call(port, { headers: { 'x-mse-tag': 'gray' } })).body, 'gray');
    assert.equal((await call(port, { headers: { baggage: 'k=v,x-mse-tag=blue' } })).body, 'blue');
    assert.equal((await call(port)).body, '(base)');
    for (const bad of ['-bad', 'x'.repeat(64), 'a b', '']) {
      assert.equal((await call(port, { headers: { 'x-mse-tag': bad } })).body, '(base)', JSON.stringify(bad));
    }
  });

  for (const order of ['before', 'after'] as const) {
    test(`${name}: express.json() and express.urlencoded() ${order} laneMiddleware keep the lane`, async (t) => {
      const app = express();
      const parsers = [express.json(), express.urlencoded({ extended: false })];
      if (order === 'before') app.use(...parsers);
      app.use(laneMiddleware());
      if (order === 'after') app.use(...parsers);
      // A middleware after the parsers, then an async handler that awaits timers and I/O.
      app.use((req, _res, next) => {
        (req as { seenByMiddleware?: string }).seenByMiddleware = lane();
        next();
      });
      app.post('/', async (req, res) => {
        await tick();
        await sleep(1);
        res.json({
          middleware: (req as { seenByMiddleware?: string }).seenByMiddleware,
          handler: lane(),
          body: req.body as unknown,
        });
      });
      const port = await start(t, app);
      const cases = [
        { type: 'application/json', body: JSON.stringify({ a: 1, pad: 'p'.repeat(2000) }) },
        { type: 'application/x-www-form-urlencoded', body: `a=1&pad=${'p'.repeat(2000)}` },
      ];
      for (const { type, body } of cases) {
        for (const tag of ['gray', undefined]) {
          const headers: Record<string, string> = { 'content-type': type };
          if (tag !== undefined) headers['x-mse-tag'] = tag;
          const reply = await call(port, { method: 'POST', headers, body });
          assert.equal(reply.status, 200, reply.body);
          const seen = JSON.parse(reply.body) as {
            middleware: string;
            handler: string;
            body: { a: unknown };
          };
          const expected = tag ?? '(base)';
          assert.equal(seen.middleware, expected, `${type}: middleware after the parser`);
          assert.equal(seen.handler, expected, `${type}: handler`);
          assert.equal(String(seen.body.a), '1', `${type}: body parsed`);
        }
      }
    });
  }

  test(`${name}: middleware that calls next() from request-stream events keeps the lane (old body-parser, busboy style)`, async (t) => {
    const app = express();
    app.use(laneMiddleware());
    // Reads the body itself and continues from 'end', which Node emits from the socket's context
    // when the body arrives after the headers: what raw-body < 2.5 and busboy-based parsers do.
    app.use((req, _res, next) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        (req as { raw?: string }).raw = body;
        next();
      });
    });
    app.post('/', async (req, res) => {
      await sleep(1);
      res.json({ lane: lane(), length: (req as { raw?: string }).raw?.length });
    });
    const port = await start(t, app);
    for (const tag of ['gray', 'blue', undefined]) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (tag !== undefined) headers['x-mse-tag'] = tag;
      const reply = await call(port, { method: 'POST', headers, body: 'x'.repeat(3000) });
      assert.deepEqual(JSON.parse(reply.body), { lane: tag ?? '(base)', length: 3000 });
    }
  });

  test(`${name}: async error handlers and res.on('finish') / req.on('end') listeners see the lane`, async (t) => {
    const seen: Record<string, string> = {};
    const app = express();
    app.use(laneMiddleware());
    app.get('/throw', async (_req, _res, next) => {
      await sleep(1);
      // Express 5 forwards a rejected promise itself; Express 4 needs next(err).
      if (name === 'express 4') next(new Error('boom'));
      else throw new Error('boom');
    });
    app.get('/finish', (req, res) => {
      res.on('finish', () => {
        seen.finish = lane();
      });
      res.on('close', () => {
        seen.close = lane();
      });
      req.on('end', () => {
        seen.end = lane();
      });
      req.resume();
      setTimeout(() => res.send('ok'), 2);
    });
    app.use(
      async (err: Error, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
        await sleep(1);
        res.status(500).send(`${err.message} in ${lane()}`);
      },
    );
    const port = await start(t, app);
    const reply = await call(port, { path: '/throw', headers: { 'x-mse-tag': 'gray' } });
    assert.deepEqual(reply, { status: 500, body: 'boom in gray' });
    await call(port, { path: '/finish', headers: { 'x-mse-tag': 'feature-x' } });
    for (let i = 0; i < 50 && seen.close === undefined; i++) await sleep(2);
    assert.deepEqual(seen, { end: 'feature-x', finish: 'feature-x', close: 'feature-x' });
  });

  test(`${name}: laneMiddleware in a mounted sub-app keeps the lane after the sub-app hands the request back`, async (t) => {
    const sub = express();
    sub.use(laneMiddleware());
    const app = express();
    app.use('/sub', sub); // no route matches in `sub`: Express hands the request back to `app`
    app.use(continueOnEnd);
    app.post('/sub', (_req, res) => {
      res.send(lane());
    });
    const port = await start(t, app);
    for (const tag of ['gray', undefined, 'blue']) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (tag !== undefined) headers['x-mse-tag'] = tag;
      const reply = await call(port, { method: 'POST', path: '/sub', headers, body: 'x'.repeat(2000) });
      assert.equal(reply.body, tag ?? '(base)');
    }
  });

  test(`${name}: an emit wrapper that earlier middleware puts on each request still runs, and events keep the lane from the first request on`, async (t) => {
    let wrapped = 0;
    const app = express();
    app.use((req, res, next) => {
      for (const emitter of [req, res]) {
        const original = emitter.emit;
        emitter.emit = function countingEmit(this: typeof emitter, ...args: Parameters<typeof original>) {
          wrapped++;
          return original.apply(this, args);
        } as typeof original;
      }
      next();
    });
    app.use(laneMiddleware());
    app.use(continueOnEnd);
    app.post('/', (_req, res) => {
      res.send(lane());
    });
    const port = await start(t, app);
    for (const tag of ['gray', 'blue', undefined, 'gray']) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (tag !== undefined) headers['x-mse-tag'] = tag;
      const before = wrapped;
      const reply = await call(port, { method: 'POST', headers, body: 'x'.repeat(2000) });
      assert.equal(reply.body, tag ?? '(base)');
      assert.ok(wrapped > before, 'the earlier wrapper saw the events');
    }
  });

  test(`${name}: lanes do not leak between requests on one keep-alive connection`, async (t) => {
    const app = express();
    app.use(express.json());
    app.use(laneMiddleware());
    app.use(express.urlencoded({ extended: false }));
    app.all('/', async (_req, res) => {
      await sleep(1);
      res.send(lane());
    });
    const port = await start(t, app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const sequence = ['gray', undefined, 'blue', '-bad', undefined, 'gray', 'feature-x', undefined];
    for (const tag of sequence) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (tag !== undefined) headers['x-mse-tag'] = tag;
      const reply = await call(port, { method: 'POST', headers, body: 'a=1', agent });
      assert.equal(reply.body, tag === undefined || tag === '-bad' ? '(base)' : tag);
    }
  });
  test(`${name}: served by createServer(laneRequestListener(app)) without laneMiddleware, the lane holds through body parsers that continue from 'end', mounted sub-apps and res.on('finish')`, async (t) => {
    const finished: string[] = [];
    const app = express();
    app.use((req, res, next) => {
      const url = req.originalUrl;
      res.on('finish', () => finished.push(`${url} ${lane()}`));
      next();
    });
    // Reads the body itself and continues from 'end' (raw-body < 2.5, busboy style): Node emits
    // 'end' from the socket's context once the body arrives after the headers.
    const readRaw = (req: IncomingMessage, _res: unknown, next: () => void): void => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        (req as { raw?: string }).raw = body;
        next();
      });
    };
    app.post('/raw', readRaw, async (req, res) => {
      await sleep(1);
      res.json({ lane: lane(), length: (req as { raw?: string }).raw?.length });
    });
    app.post('/json', express.json(), async (req, res) => {
      await tick();
      res.json({ lane: lane(), length: (req.body as { pad: string }).pad.length });
    });
    const sub = express();
    sub.post('/', readRaw, (req, res) => {
      res.json({ lane: lane(), length: (req as { raw?: string }).raw?.length });
    });
    app.use('/sub', sub);
    const port = await listen(createServer(laneRequestListener(app)), t);
    const body = JSON.stringify({ pad: 'p'.repeat(3000) });
    const expected: string[] = [];
    for (const path of ['/raw', '/json', '/sub']) {
      for (const tag of ['gray', undefined, 'blue']) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (tag !== undefined) headers['x-mse-tag'] = tag;
        const reply = await call(port, { method: 'POST', path, headers, body });
        assert.equal(reply.status, 200, reply.body);
        assert.deepEqual(
          JSON.parse(reply.body),
          { lane: tag ?? '(base)', length: path === '/json' ? 3000 : body.length },
          `${path} ${tag}`,
        );
        expected.push(`${path} ${tag ?? '(base)'}`);
      }
    }
    for (let i = 0; i < 500 && finished.length < expected.length; i++) await sleep(2);
    assert.deepEqual([...finished].sort(), expected.sort());
  });
}

test('carried headers are in the context; oversize values are not carried', async (t) => {
  const app = express5();
  app.use(laneMiddleware({ carry: ['x-user-id', 'X-Request-Id'] }));
  app.get('/', (_req, res) => {
    res.json(currentLaneContext().carry ?? null);
  });
  const port = await start(t, app);
  let reply = await call(port, {
    headers: { 'x-mse-tag': 'gray', 'x-user-id': '42', 'x-request-id': 'r1', 'x-other': 'no' },
  });
  assert.deepEqual(JSON.parse(reply.body), [
    ['x-user-id', '42'],
    ['x-request-id', 'r1'],
  ]);
  // Carried even in the base lane.
  reply = await call(port, { headers: { 'x-user-id': '7' } });
  assert.deepEqual(JSON.parse(reply.body), [['x-user-id', '7']]);
  reply = await call(port, { headers: { 'x-mse-tag': 'gray', 'x-user-id': 'u'.repeat(5000) } });
  assert.equal(reply.body, 'null');
});

test('a base-lane request runs in the base lane even when the server was started inside a lane', async (t) => {
  const app = express5();
  app.use(laneMiddleware());
  app.use(express5.json());
  app.post('/', (_req, res) => {
    res.send(lane());
  });
  const server = withLane('gray', () => createServer(app));
  const port = await withLane('gray', () => listen(server, t));
  const headers = { 'content-type': 'application/json' };
  assert.equal((await call(port, { method: 'POST', headers, body: '{}' })).body, '(base)');
  assert.equal(
    (await call(port, { method: 'POST', headers: { ...headers, 'x-mse-tag': 'blue' }, body: '{}' })).body,
    'blue',
  );
});

test('a second laneMiddleware (e.g. on a router) replaces the first for the rest of the request', async (t) => {
  const app = express5();
  app.use(laneMiddleware());
  const router = express5.Router();
  router.use(laneMiddleware({ header: 'x-lane' }));
  router.use(express5.json());
  router.post('/', (_req, res) => {
    res.send(lane());
  });
  app.use('/r', router);
  const port = await start(t, app);
  const reply = await call(port, {
    method: 'POST',
    path: '/r',
    headers: { 'content-type': 'application/json', 'x-mse-tag': 'gray', 'x-lane': 'blue' },
    body: '{"a":1}',
  });
  assert.equal(reply.body, 'blue');
});

test('a plain node:http server (no Express) keeps the lane in request and response events', async (t) => {
  const middleware = laneMiddleware();
  const seen: string[] = [];
  const server = createServer((req, res) => {
    middleware(req, res, () => {
      res.on('finish', () => seen.push(`finish ${lane()}`));
      req.resume();
      req.on('end', () => res.end(lane()));
    });
  });
  const port = await listen(server, t);
  for (const tag of ['gray', undefined]) {
    const headers: Record<string, string> = tag === undefined ? {} : { 'x-mse-tag': tag };
    const reply = await call(port, { method: 'POST', headers, body: 'x'.repeat(2000) });
    assert.equal(reply.body, tag ?? '(base)');
  }
  for (let i = 0; i < 50 && seen.length < 2; i++) await sleep(2);
  assert.deepEqual(seen, ['finish gray', 'finish (base)']);
});

test("no prototype is changed, not Node's, not Express's, not the app's: each request and response is bound itself", async (t) => {
  const app = express5();
  const shared = [
    IncomingMessage.prototype,
    ServerResponse.prototype,
    express5.request,
    express5.response,
    app.request,
    app.response,
  ];
  const before = shared.map((p) => [Object.hasOwn(p, 'emit'), p.emit] as const);
  app.use(laneMiddleware());
  app.get('/', (req, res) => {
    // An object inheriting from the request emits without recursing into the wrapper.
    const derived = Object.create(req) as EventEmitter;
    let derivedEvents = 0;
    derived.on('ping', () => derivedEvents++);
    derived.emit('ping');
    res.send(`${lane()} ${derivedEvents}`);
  });
  const port = await start(t, app);
  assert.equal((await call(port, { headers: { 'x-mse-tag': 'gray' } })).body, 'gray 1');
  assert.deepEqual(
    shared.map((p) => [Object.hasOwn(p, 'emit'), p.emit] as const),
    before,
  );
  assert.equal(EventEmitter.prototype.emit, before[0]![1]);
  assert.ok(!Object.hasOwn(app.request, 'emit') && !Object.hasOwn(app.response, 'emit'));
});

test('ingress is counted: requests per lane and ignored tags', async (t) => {
  resetIngressCounters();
  const app = express5();
  app.use(laneMiddleware());
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  const port = await start(t, app);
  await call(port, { headers: { 'x-mse-tag': 'gray' } });
  await call(port, { headers: { 'x-mse-tag': 'gray' } });
  await call(port);
  await call(port, { headers: { 'x-mse-tag': '-bad' } });
  const counters = ingressCounters();
  assert.equal(counters.requests.gray, 2);
  assert.equal(counters.requests['(base)'], 2);
  assert.equal(counters.invalidTags.grammar, 1);
});

test('malformed options fail at setup with GL_ERR_INVALID_OPTION', () => {
  for (const options of [
    { header: 'bad header' },
    { carry: 'x-user-id' as never },
    { sources: [42 as never] },
  ]) {
    assert.throws(() => laneMiddleware(options), { code: 'GL_ERR_INVALID_OPTION' });
  }
});

test('the middleware and the function it returns are both named laneMiddleware', async (t) => {
  assert.equal(laneMiddleware().name, 'laneMiddleware');
  // And it works on a bare node:http server too.
  const middleware = laneMiddleware();
  const server = createServer((req, res) => middleware(req, res, () => res.end(lane())));
  const port = await listen(server, t);
  assert.equal((await call(port, { headers: { 'x-mse-tag': 'gray' } })).body, 'gray');
  void once;
});
