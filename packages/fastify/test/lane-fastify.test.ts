import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, ingressCounters, resetIngressCounters } from '@graylane/core';
import { laneFastify } from '@graylane/fastify';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';
import { call } from '../../../test/helpers/http-call';

type Factory = typeof fastify5;
const FASTIFIES: ReadonlyArray<readonly [string, Factory]> = [
  ['fastify 5', fastify5],
  ['fastify 4', fastify4 as unknown as Factory],
];

const lane = (): string => currentLane() ?? '(base)';

async function start(t: TestContext, app: ReturnType<Factory>): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  return (app.server.address() as AddressInfo).port;
}

const tagged = (tag: string | undefined, extra: Record<string, string> = {}): Record<string, string> =>
  tag === undefined ? extra : { ...extra, 'x-mse-tag': tag };

for (const [name, fastify] of FASTIFIES) {
  test(`${name}: sync and async handlers run in the request's lane; untagged and invalid in the base lane, counted`, async (t) => {
    const app = fastify();
    app.register(laneFastify());
    app.get('/sync', (_request, reply) => {
      reply.send(lane());
    });
    app.get('/async', async () => {
      await sleep(1);
      return lane();
    });
    const port = await start(t, app);
    resetIngressCounters();
    for (const path of ['/sync', '/async']) {
      assert.equal((await call(port, { path, headers: tagged('gray') })).body, 'gray');
      assert.equal((await call(port, { path, headers: { baggage: 'x-mse-tag=blue' } })).body, 'blue');
      assert.equal((await call(port, { path })).body, '(base)');
      assert.equal((await call(port, { path, headers: tagged('-bad') })).body, '(base)');
    }
    const counters = ingressCounters();
    assert.equal(counters.requests.gray, 2);
    assert.equal(counters.invalidTags.grammar, 2);
  });

  test(`${name}: every hook, the JSON parser, a custom stream parser, onResponse and raw events keep the lane`, async (t) => {
    const seen: Record<string, string> = {};
    const app = fastify();
    app.register(laneFastify());
    for (const hook of ['preParsing', 'preSerialization', 'onSend'] as const) {
      app.addHook(hook, async (_request: unknown, _reply: unknown, payload: unknown) => {
        seen[hook] = lane();
        return payload;
      });
    }
    for (const hook of ['preValidation', 'preHandler'] as const) {
      app.addHook(hook, async () => {
        seen[hook] = lane();
      });
    }
    app.addHook('onResponse', (_request, _reply, done) => {
      seen.onResponse = lane();
      done();
    });
    // A parser that reads the raw stream itself and answers from its 'end' event.
    app.addContentTypeParser('text/plain', (_request, payload, done) => {
      let body = '';
      payload.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      payload.on('end', () => {
        seen.parserEnd = lane();
        done(null, body);
      });
    });
    app.post('/', async (request, reply) => {
      reply.raw.on('finish', () => {
        seen.finish = lane();
      });
      await sleep(1);
      return { handler: lane(), length: String(request.body).length };
    });
    app.post('/json', async (request) => ({ handler: lane(), a: (request.body as { a: number }).a }));
    const port = await start(t, app);
    for (const tag of ['gray', undefined]) {
      for (const key of Object.keys(seen)) delete seen[key];
      const reply = await call(port, {
        method: 'POST',
        headers: tagged(tag, { 'content-type': 'text/plain' }),
        body: 'x'.repeat(3000),
      });
      const expected = tag ?? '(base)';
      assert.deepEqual(JSON.parse(reply.body), { handler: expected, length: 3000 });
      for (let i = 0; i < 100 && seen.onResponse === undefined; i++) await sleep(2);
      assert.deepEqual(seen, {
        preParsing: expected,
        parserEnd: expected,
        preValidation: expected,
        preHandler: expected,
        preSerialization: expected,
        onSend: expected,
        finish: expected,
        onResponse: expected,
      });
      const json = await call(port, {
        method: 'POST',
        path: '/json',
        headers: tagged(tag, { 'content-type': 'application/json' }),
        body: JSON.stringify({ a: 1, pad: 'p'.repeat(3000) }),
      });
      assert.deepEqual(JSON.parse(json.body), { handler: expected, a: 1 });
    }
  });

  test(`${name}: error handlers, reply.send of a stream, and routes of encapsulated plugins see the lane`, async (t) => {
    const app = fastify();
    app.register(laneFastify());
    app.setErrorHandler(async (error, _request, reply) => {
      await sleep(1);
      reply.code(500).send(`${(error as Error).message} in ${lane()}`);
    });
    app.get('/throw', async () => {
      await sleep(1);
      throw new Error('boom');
    });
    app.get('/stream', (_request, reply) => {
      // Each chunk is produced when the response pulls it, from the stream's own callbacks.
      let n = 0;
      const stream = new Readable({
        read() {
          setTimeout(() => this.push(n++ < 3 ? `${lane()};` : null), 1);
        },
      });
      reply.type('text/plain').send(stream);
    });
    app.register(
      async (child) => {
        child.addHook('preHandler', async (request) => {
          (request as { childHook?: string }).childHook = lane();
        });
        child.get('/', async (request) => `${(request as { childHook?: string }).childHook} ${lane()}`);
      },
      { prefix: '/child' },
    );
    const port = await start(t, app);
    assert.deepEqual(await call(port, { path: '/throw', headers: tagged('gray') }), {
      status: 500,
      body: 'boom in gray',
    });
    assert.equal((await call(port, { path: '/stream', headers: tagged('blue') })).body, 'blue;blue;blue;');
    assert.equal(
      (await call(port, { path: '/child', headers: tagged('feature-x') })).body,
      'feature-x feature-x',
    );
    assert.equal((await call(port, { path: '/child' })).body, '(base) (base)');
  });

  test(`${name}: lanes do not leak between requests on one keep-alive connection`, async (t) => {
    const app = fastify();
    app.register(laneFastify());
    app.post('/', async () => {
      await sleep(1);
      return lane();
    });
    const port = await start(t, app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    for (const tag of ['gray', undefined, 'blue', '-bad', undefined, 'gray']) {
      const reply = await call(port, {
        method: 'POST',
        headers: tagged(tag, { 'content-type': 'application/json' }),
        body: '{"a":1}',
        agent,
      });
      assert.equal(reply.body, tag === undefined || tag === '-bad' ? '(base)' : tag);
    }
  });
}

test('laneFastify checks its options at once, and its plugin is named and not encapsulated', () => {
  assert.throws(() => laneFastify({ header: 'bad header' }), { code: 'GL_ERR_INVALID_OPTION' });
  const plugin = laneFastify() as unknown as Record<symbol, unknown> & { name: string };
  assert.equal(plugin.name, 'laneFastify');
  assert.equal(plugin[Symbol.for('skip-override')], true);
});
