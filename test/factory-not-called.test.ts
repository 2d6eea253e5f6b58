// A factory handed to a framework without being called (`app.use(laneMiddleware)`,
// `interceptors: [laneClientInterceptor]`) fails loudly with GL_ERR_FACTORY_NOT_CALLED and says
// what to write, instead of a misleading option error on every request (issue 16, item 2).
import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import { test } from 'node:test';
import { FactoryNotCalledError, isIncomingRequest, laneRequestListener } from '@graylane/core';
import { diagnosticsRouter, laneEdge, laneMiddleware } from '@graylane/express';
import { laneFastify, laneFastifyEdge } from '@graylane/fastify';
import { laneClientInterceptor, laneServerInterceptor } from '@graylane/grpc';
import { laneKoa } from '@graylane/koa';
import { type Interceptor, Metadata, type ServerInterceptor, type ServiceError, status } from '@grpc/grpc-js';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import express4 from 'express4';
import fastify5, { type FastifyPluginCallback } from 'fastify';
import fastify4 from 'fastify4';
import Koa from 'koa';
import Koa2 from 'koa2';
import { echoClient, startEchoServer } from '../packages/grpc/test/helpers/echo';
import { listen } from './helpers/listen';

// What a user writes by mistake: the factory itself where a handler belongs.
const UNCALLED: ReadonlyArray<readonly [name: string, factory: unknown, usage: RegExp]> = [
  ['laneMiddleware', laneMiddleware, /write app\.use\(laneMiddleware\(\)\)/],
  ['laneEdge', laneEdge, /write app\.use\(laneEdge\(\{ rules \}\)\)/],
  [
    'diagnosticsRouter',
    diagnosticsRouter,
    /write app\.use\('\/graylane', diagnosticsRouter\(\{ discovery \}\)\)/,
  ],
];

for (const [version, make] of [
  ['5', express],
  ['4', express4 as unknown as typeof express],
] as const) {
  for (const [name, factory, usage] of UNCALLED) {
    test(`Express ${version}: app.use(${name}) answers 500 with GL_ERR_FACTORY_NOT_CALLED`, async (t) => {
      const app = make();
      const seen: unknown[] = [];
      app.use(factory as RequestHandler);
      app.get('/', (_req, res) => {
        res.send('reached the handler');
      });
      const onError: ErrorRequestHandler = (err, _req, res, _next) => {
        seen.push(err);
        res.status(500).json({ code: (err as { code?: unknown }).code, message: String(err.message) });
      };
      app.use(onError);
      const port = await listen(createServer(app), t);
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-mse-tag': 'gray' } });
      assert.equal(res.status, 500);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, 'GL_ERR_FACTORY_NOT_CALLED');
      assert.match(body.message, usage);
      assert.ok(seen[0] instanceof FactoryNotCalledError);
    });
  }
}

test('isIncomingRequest tells a request from an options object', async (t) => {
  const server = createServer((req, res) => {
    res.end(String(isIncomingRequest(req)));
  });
  const port = await listen(server, t);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'true');
  assert.equal(isIncomingRequest({ header: 'x-lane' }), false);
  assert.equal(
    isIncomingRequest({ headers: {}, method: 'GET', url: '/' }),
    false,
    'no socket: not a request',
  );
  assert.equal(isIncomingRequest(undefined), false);
});

test('gRPC: interceptors: [laneClientInterceptor] throws GL_ERR_FACTORY_NOT_CALLED from the call', async (t) => {
  const { address } = await startEchoServer({ name: 'b' }, t);
  const client = echoClient(address, { interceptors: [laneClientInterceptor as unknown as Interceptor] }, t);
  assert.throws(
    () => client.Unary({ message: 'hi' }, new Metadata(), () => {}),
    (err: unknown) => {
      assert.ok(err instanceof FactoryNotCalledError);
      assert.equal(err.code, 'GL_ERR_FACTORY_NOT_CALLED');
      assert.match(err.message, /write interceptors: \[laneClientInterceptor\(\)\]/);
      return true;
    },
  );
});

test('gRPC: interceptors: [laneServerInterceptor] fails each call with INTERNAL and warns once', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const { address } = await startEchoServer(
    { name: 'b', interceptors: [laneServerInterceptor as unknown as ServerInterceptor] },
    t,
  );
  const client = echoClient(address, {}, t);
  for (let i = 0; i < 2; i++) {
    const err = await new Promise<ServiceError | null>((resolve) => {
      client.Unary({ message: 'hi' }, new Metadata(), (error) => resolve(error));
    });
    assert.ok(err !== null, 'the call failed');
    assert.equal(err.code, status.INTERNAL);
    assert.match(
      err.details,
      /laneServerInterceptor is a factory .* write interceptors: \[laneServerInterceptor\(\)\]/,
    );
  }
  await new Promise((resolve) => setImmediate(resolve));
  const ours = warnings.filter((w) => (w as { code?: string }).code === 'GL_ERR_FACTORY_NOT_CALLED');
  assert.equal(ours.length, 1, 'warned once');
  // The server is still serving: a correct interceptor set works on a fresh server.
  const good = await startEchoServer({ name: 'c', interceptors: [laneServerInterceptor()] }, t);
  const ok = echoClient(good.address, {}, t);
  const reply = await new Promise<unknown>((resolve, reject) => {
    ok.Unary({ message: 'hi' }, new Metadata(), (error, value) => (error ? reject(error) : resolve(value)));
  });
  assert.ok(reply);
});

// Fastify hands a plugin (instance, opts, done): the uncalled factory fails the boot through
// `done`, so `ready()` / `listen()` reject with the typed error.
for (const [version, make] of [
  ['5', fastify5],
  ['4', fastify4 as unknown as typeof fastify5],
] as const) {
  for (const [name, factory, usage] of [
    ['laneFastify', laneFastify, /write app\.register\(laneFastify\(\)\)/],
    ['laneFastifyEdge', laneFastifyEdge, /write app\.register\(laneFastifyEdge\(\{ rules \}\)\)/],
  ] as const) {
    test(`Fastify ${version}: app.register(${name}) fails ready() with GL_ERR_FACTORY_NOT_CALLED`, async (t) => {
      const app = make();
      t.after(() => app.close());
      app.register(factory as unknown as FastifyPluginCallback);
      await assert.rejects(
        async () => app.ready(),
        (err: unknown) => {
          assert.ok(err instanceof FactoryNotCalledError, String(err));
          assert.equal(err.code, 'GL_ERR_FACTORY_NOT_CALLED');
          assert.match(err.message, usage);
          return true;
        },
      );
    });
  }
}

// Koa hands a middleware (ctx, next): the uncalled factory throws, Koa answers 500 and emits it.
for (const [version, Make] of [
  ['3', Koa],
  ['2', Koa2 as unknown as typeof Koa],
] as const) {
  test(`Koa ${version}: app.use(laneKoa) answers 500 and emits GL_ERR_FACTORY_NOT_CALLED`, async (t) => {
    const app = new Make();
    const seen: unknown[] = [];
    app.silent = true;
    app.on('error', (err: unknown) => seen.push(err));
    app.use(laneKoa as unknown as Koa.Middleware);
    app.use((ctx) => {
      ctx.body = 'reached the handler';
    });
    const port = await listen(createServer(app.callback()), t);
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-mse-tag': 'gray' } });
    assert.equal(res.status, 500);
    assert.notEqual(await res.text(), 'reached the handler');
    assert.ok(seen[0] instanceof FactoryNotCalledError, String(seen[0]));
    assert.match((seen[0] as Error).message, /write app\.use\(laneKoa\(\)\)/);
  });
}

test('node:http: createServer(laneRequestListener) answers 500 saying what to write', async (t) => {
  const server = createServer(laneRequestListener as unknown as RequestListener);
  const port = await listen(server, t);
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 500);
    assert.match(
      await res.text(),
      /^GL_ERR_FACTORY_NOT_CALLED: .*write createServer\(laneRequestListener\(\(req, res\) => \{ \.\.\. \}\)\)/,
    );
  }
});
