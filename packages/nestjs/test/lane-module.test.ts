import 'reflect-metadata';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, ingressCounters, resetIngressCounters } from '@graylane/core';
import { LaneModule } from '@graylane/nestjs';
import {
  type ArgumentsHost,
  Body,
  type CallHandler,
  Catch,
  Controller,
  type ExceptionFilter,
  type ExecutionContext,
  Get,
  type INestApplication,
  Module,
  type NestInterceptor,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { map, type Observable, of } from 'rxjs';

const lane = (): string => currentLane() ?? '(base)';

// Decorators applied as functions: the repository compiles without decorator syntax.
function method(target: object, key: string, ...decorators: MethodDecorator[]): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
  for (const decorate of decorators) decorate(target, key, descriptor);
}

class LaneController {
  async get(): Promise<string> {
    await sleep(1);
    return lane();
  }
  observable(): Observable<string> {
    return of(1).pipe(map(() => lane()));
  }
  async post(body: { a: number }): Promise<{ a: number; lane: string }> {
    await sleep(1);
    return { a: body.a, lane: lane() };
  }
  async fail(): Promise<never> {
    await sleep(1);
    throw new Error('boom');
  }
}
method(LaneController.prototype, 'get', Get());
method(LaneController.prototype, 'observable', Get('observable'));
method(LaneController.prototype, 'post', Post());
Body()(LaneController.prototype, 'post', 0);
method(LaneController.prototype, 'fail', Get('fail'));
Controller()(LaneController);

/** An interceptor recording the lane before the handler and after it, on the way out. */
class LaneInterceptor implements NestInterceptor {
  static readonly seen: string[] = [];
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    LaneInterceptor.seen.push(`before ${lane()}`);
    return next.handle().pipe(
      map((value: unknown) => {
        LaneInterceptor.seen.push(`after ${lane()}`);
        return value;
      }),
    );
  }
}

class LaneFilter implements ExceptionFilter {
  catch(exception: Error, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<{
      status?: (code: number) => { send: (body: string) => void };
      code?: (code: number) => { send: (body: string) => void };
    }>();
    const body = `${exception.message} in ${lane()}`;
    // Express's res.status(), Fastify's reply.code().
    if (typeof response.code === 'function') response.code(500).send(body);
    else response.status!(500).send(body);
  }
}
Catch()(LaneFilter);

class AppModule {}
Module({ imports: [LaneModule.forRoot()], controllers: [LaneController] })(AppModule);

function call(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    if (body === undefined) {
      req.end();
      return;
    }
    req.write(body.slice(0, 1000));
    setTimeout(() => req.end(body.slice(1000)), 5);
  });
}

async function start(t: TestContext, platform: 'express' | 'fastify'): Promise<number> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app: INestApplication = await NestFactory.create(AppModule, adapter, { logger: false });
  app.useGlobalInterceptors(new LaneInterceptor());
  app.useGlobalFilters(new LaneFilter());
  await app.listen(0, '127.0.0.1');
  t.after(() => app.close());
  return (app.getHttpServer().address() as AddressInfo).port;
}

for (const platform of ['express', 'fastify'] as const) {
  test(`@nestjs/platform-${platform}: controllers, interceptors, body parsing and exception filters run in the request's lane`, async (t) => {
    const port = await start(t, platform);
    resetIngressCounters();
    for (const tag of ['gray', undefined, '-bad']) {
      const headers: Record<string, string> = tag === undefined ? {} : { 'x-mse-tag': tag };
      const expected = tag === 'gray' ? 'gray' : '(base)';
      LaneInterceptor.seen.length = 0;
      assert.equal((await call(port, '/', headers)).body, expected);
      assert.deepEqual(LaneInterceptor.seen, [`before ${expected}`, `after ${expected}`]);
      assert.equal((await call(port, '/observable', headers)).body, expected);
      const posted = await call(
        port,
        '/',
        { ...headers, 'content-type': 'application/json' },
        JSON.stringify({ a: 1, pad: 'p'.repeat(3000) }),
      );
      assert.deepEqual(JSON.parse(posted.body), { a: 1, lane: expected });
      assert.deepEqual(await call(port, '/fail', headers), { status: 500, body: `boom in ${expected}` });
    }
    const counters = ingressCounters();
    assert.equal(counters.requests.gray, 4);
    assert.equal(counters.invalidTags.grammar, 4);
  });
}

test('LaneModule.forRoot checks its options at once', () => {
  assert.throws(() => LaneModule.forRoot({ header: 'bad header' }), { code: 'GL_ERR_INVALID_OPTION' });
});
