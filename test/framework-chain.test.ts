// Lanes across frameworks: a 3-hop chain per framework (Express 5, Fastify 5 and 4, Koa 3 and 2,
// NestJS on both HTTP platforms, plain node:http), a mixed chain Express -> Fastify -> Koa ->
// NestJS -> node:http, and isolation over that mixed chain: 5,000 mixed-lane requests at
// concurrency 100, zero mismatches. Every hop awaits a timer, then calls the next hop with the
// global fetch and no lane code (automatic propagation).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, enablePropagation, laneRequestListener } from '@graylane/core';
import { laneMiddleware } from '@graylane/express';
import { laneFastify } from '@graylane/fastify';
import { laneKoa } from '@graylane/koa';
import { LaneModule } from '@graylane/nestjs';
import { Controller, Get, Headers, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import express from 'express';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { listen } from './helpers/listen';

interface Report {
  readonly hop: string;
  readonly header: string | null;
  readonly lane: string | null;
  readonly next: Report | null;
}

/** What every hop does: await, then call the next hop (if any) with no lane code. */
async function hop(name: string, next: string | undefined, headers: IncomingHttpHeaders): Promise<Report> {
  await sleep(1);
  const lane = currentLane() ?? null;
  let reply: Report | null = null;
  if (next !== undefined) reply = (await (await fetch(next)).json()) as Report;
  const header = headers['x-mse-tag'];
  return { hop: name, header: typeof header === 'string' ? header : null, lane, next: reply };
}

type Start = (t: TestContext, name: string, next: string | undefined) => Promise<string>;

const url = (port: number): string => `http://127.0.0.1:${port}/`;

const startExpress: Start = async (t, name, next) => {
  const app = express();
  app.use(laneMiddleware());
  app.get('/', async (req, res) => {
    res.json(await hop(name, next, req.headers));
  });
  return url(await listen(createServer(app), t));
};

function fastifyStarter(factory: typeof fastify5): Start {
  return async (t, name, next) => {
    const app = factory();
    app.register(laneFastify());
    app.get('/', async (request) => hop(name, next, request.headers));
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    return url((app.server.address() as AddressInfo).port);
  };
}

function koaStarter(Koa: typeof Koa3): Start {
  return async (t, name, next) => {
    const app = new Koa();
    app.use(laneKoa());
    app.use(async (ctx) => {
      ctx.body = await hop(name, next, ctx.req.headers);
    });
    return url(await listen(createServer(app.callback()), t));
  };
}

function nestStarter(platform: 'express' | 'fastify'): Start {
  return async (t, name, next) => {
    class HopController {
      get(headers: IncomingHttpHeaders): Promise<Report> {
        return hop(name, next, headers);
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(HopController.prototype, 'get')!;
    Get()(HopController.prototype, 'get', descriptor);
    Headers()(HopController.prototype, 'get', 0);
    Controller()(HopController);
    class HopModule {}
    Module({ imports: [LaneModule.forRoot()], controllers: [HopController] })(HopModule);
    const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
    const app: INestApplication = await NestFactory.create(HopModule, adapter, { logger: false });
    await app.listen(0, '127.0.0.1');
    t.after(() => app.close());
    return url((app.getHttpServer().address() as AddressInfo).port);
  };
}

const startNodeHttp: Start = async (t, name, next) => {
  const server = createServer(
    laneRequestListener((req, res) => {
      void hop(name, next, req.headers).then((report) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(report));
      });
    }),
  );
  return url(await listen(server, t));
};

const FRAMEWORKS: Readonly<Record<string, Start>> = {
  'express 5': startExpress,
  'fastify 5': fastifyStarter(fastify5),
  'fastify 4': fastifyStarter(fastify4 as unknown as typeof fastify5),
  'koa 3': koaStarter(Koa3),
  'koa 2': koaStarter(Koa2 as unknown as typeof Koa3),
  'nestjs (platform-express)': nestStarter('express'),
  'nestjs (platform-fastify)': nestStarter('fastify'),
  'node:http': startNodeHttp,
};

/** Starts hops last-first so each knows the next one's URL; returns the first hop's URL. */
async function startChain(t: TestContext, hops: ReadonlyArray<readonly [string, Start]>): Promise<string> {
  let next: string | undefined;
  for (let i = hops.length - 1; i >= 0; i--) next = await hops[i]![1](t, hops[i]![0], next);
  return next!;
}

function flatten(report: Report): Array<[string | null, string | null]> {
  const out: Array<[string | null, string | null]> = [];
  for (let r: Report | null = report; r !== null; r = r.next) out.push([r.header, r.lane]);
  return out;
}

async function send(entry: string, tag: string | undefined): Promise<Report> {
  const reply = await fetch(entry, { headers: tag === undefined ? {} : { 'x-mse-tag': tag } });
  assert.equal(reply.status, 200);
  return (await reply.json()) as Report;
}

function enable(t: TestContext): void {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
}

for (const [framework, start] of Object.entries(FRAMEWORKS)) {
  test(`${framework}: a 3-hop chain carries the lane end to end; untagged and invalid stay base`, async (t) => {
    enable(t);
    const entry = await startChain(t, [
      ['edge', start],
      ['a', start],
      ['b', start],
    ]);
    assert.deepEqual(flatten(await send(entry, 'gray')), [
      ['gray', 'gray'],
      ['gray', 'gray'],
      ['gray', 'gray'],
    ]);
    assert.deepEqual(flatten(await send(entry, undefined)), [
      [null, null],
      [null, null],
      [null, null],
    ]);
    assert.deepEqual(flatten(await send(entry, '-bad')), [
      ['-bad', null],
      [null, null],
      [null, null],
    ]);
  });
}

const MIXED: ReadonlyArray<readonly [string, Start]> = [
  ['express', FRAMEWORKS['express 5']!],
  ['fastify', FRAMEWORKS['fastify 5']!],
  ['koa', FRAMEWORKS['koa 3']!],
  ['nestjs', FRAMEWORKS['nestjs (platform-express)']!],
  ['node:http', FRAMEWORKS['node:http']!],
];

test('mixed chain Express -> Fastify -> Koa -> NestJS -> node:http carries lanes end to end', async (t) => {
  enable(t);
  const entry = await startChain(t, MIXED);
  for (const tag of ['gray', 'feature-x', undefined]) {
    const report = await send(entry, tag);
    assert.deepEqual(
      flatten(report).map(([, lane]) => lane),
      MIXED.map(() => tag ?? null),
    );
    assert.deepEqual(
      flatten(report).map(([header]) => header),
      MIXED.map(() => tag ?? null),
    );
  }
});

const TOTAL = 5_000;
const CONCURRENCY = 100;
const TAGS: ReadonlyArray<readonly [sent: string | undefined, expected: string | null]> = [
  ['gray', 'gray'],
  [undefined, null],
  ['blue', 'blue'],
  ['-invalid', null],
  ['feature-x', 'feature-x'],
  ['x'.repeat(100), null],
  ['v1.2_3', 'v1.2_3'],
];

test(`isolation across frameworks: ${TOTAL} mixed-lane requests at concurrency ${CONCURRENCY} through the mixed chain, zero mismatches`, async (t) => {
  enable(t);
  const entry = await startChain(t, MIXED);
  let nextIndex = 0;
  const mismatches: string[] = [];
  let done = 0;
  async function worker(): Promise<void> {
    for (let i = nextIndex++; i < TOTAL; i = nextIndex++) {
      const [sent, expected] = TAGS[i % TAGS.length]!;
      const lanes = flatten(await send(entry, sent)).map(([, lane]) => lane);
      if (lanes.some((lane) => lane !== expected)) {
        mismatches.push(`#${i} sent ${String(sent).slice(0, 20)}: ${JSON.stringify(lanes)}`);
      }
      done++;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(done, TOTAL);
  assert.deepEqual(mismatches.slice(0, 10), []);
});
