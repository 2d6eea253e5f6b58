// Hops of every framework graylane serves, for the cross-framework chain and isolation tests:
// each hop awaits a timer, then calls the next hop with the global fetch and no lane code, and
// reports the lane header it received and the lane its handler ran in.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
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
import { listen } from './listen';

export interface Report {
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

export type Start = (t: TestContext, name: string, next: string | undefined) => Promise<string>;

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

export const FRAMEWORKS: Readonly<Record<string, Start>> = {
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
export async function startChain(
  t: TestContext,
  hops: ReadonlyArray<readonly [string, Start]>,
): Promise<string> {
  let next: string | undefined;
  for (let i = hops.length - 1; i >= 0; i--) next = await hops[i]![1](t, hops[i]![0], next);
  return next!;
}

export function flatten(report: Report): Array<[string | null, string | null]> {
  const out: Array<[string | null, string | null]> = [];
  for (let r: Report | null = report; r !== null; r = r.next) out.push([r.header, r.lane]);
  return out;
}

export async function send(entry: string, tag: string | undefined): Promise<Report> {
  const reply = await fetch(entry, { headers: tag === undefined ? {} : { 'x-mse-tag': tag } });
  assert.equal(reply.status, 200);
  return (await reply.json()) as Report;
}

export function enable(t: TestContext): void {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
}

/** Express -> Fastify -> Koa -> NestJS -> node:http. */
export const MIXED: ReadonlyArray<readonly [string, Start]> = [
  ['express', FRAMEWORKS['express 5']!],
  ['fastify', FRAMEWORKS['fastify 5']!],
  ['koa', FRAMEWORKS['koa 3']!],
  ['nestjs', FRAMEWORKS['nestjs (platform-express)']!],
  ['node:http', FRAMEWORKS['node:http']!],
];
