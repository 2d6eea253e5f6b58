import assert from 'node:assert/strict';
import { Agent, createServer } from 'node:http';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, ingressCounters, resetIngressCounters } from '@graylane/core';
import { laneKoa } from '@graylane/koa';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { call } from '../../../test/helpers/http-call';
import { listen } from '../../../test/helpers/listen';

type KoaClass = typeof Koa3;
const KOAS: ReadonlyArray<readonly [string, KoaClass]> = [
  ['koa 3', Koa3],
  ['koa 2', Koa2 as unknown as KoaClass],
];

const lane = (): string => currentLane() ?? '(base)';

/** A body parser in the style of koa-bodyparser/raw-body: resolves from the request's 'end'. */
function readBody(ctx: Koa3.Context): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    ctx.req.setEncoding('utf8');
    ctx.req.on('data', (chunk: string) => {
      body += chunk;
    });
    ctx.req.on('end', () => resolve(`${body.length} ${lane()}`));
  });
}

const tagged = (tag: string | undefined): Record<string, string> =>
  tag === undefined ? {} : { 'x-mse-tag': tag };

async function start(t: TestContext, app: Koa3): Promise<number> {
  return listen(createServer(app.callback()), t);
}

for (const [name, Koa] of KOAS) {
  for (const order of ['before', 'after'] as const) {
    test(`${name}: body parsing ${order} laneKoa, await next(), upstream code after next() and res 'finish' keep the lane`, async (t) => {
      const seen: Record<string, string> = {};
      const app = new Koa();
      const parse = async (ctx: Koa3.Context, next: Koa3.Next) => {
        (ctx.state as { body?: string }).body = await readBody(ctx);
        await next();
      };
      if (order === 'before') app.use(parse);
      app.use(async (ctx, next) => {
        ctx.res.on('finish', () => {
          seen.finish = lane();
        });
        await next();
      });
      app.use(laneKoa());
      // Error-handling middleware below the lane middleware: catches a rejected next().
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (err) {
          await sleep(1);
          ctx.status = 500;
          ctx.body = `${(err as Error).message} in ${lane()}`;
        }
      });
      if (order === 'after') app.use(parse);
      app.use(async (ctx) => {
        await sleep(1);
        if (ctx.method === 'DELETE') throw new Error('boom');
        ctx.body = `${(ctx.state as { body?: string }).body ?? '-'} ${lane()}`;
      });
      const port = await start(t, app);
      for (const tag of ['gray', undefined]) {
        const expected = tag ?? '(base)';
        for (const key of Object.keys(seen)) delete seen[key];
        const reply = await call(port, { method: 'POST', headers: tagged(tag), body: 'x'.repeat(3000) });
        // Before laneKoa, the parser runs before any lane is entered: it sees the base lane.
        const parsedIn = order === 'before' ? '(base)' : expected;
        assert.equal(reply.body, `3000 ${parsedIn} ${expected}`);
        for (let i = 0; i < 100 && seen.finish === undefined; i++) await sleep(2);
        assert.equal(seen.finish, expected, "res 'finish'");
        const failed = await call(port, { method: 'DELETE', headers: tagged(tag) });
        assert.deepEqual(failed, { status: 500, body: `boom in ${expected}` });
      }
    });
  }

  test(`${name}: invalid tags are ignored and counted; no leak on one keep-alive connection`, async (t) => {
    const app = new Koa();
    app.use(laneKoa());
    app.use(async (ctx) => {
      await sleep(1);
      ctx.body = lane();
    });
    const port = await start(t, app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    resetIngressCounters();
    for (const tag of ['gray', undefined, 'blue', '-bad', 'x'.repeat(64), 'gray']) {
      const reply = await call(port, { headers: tagged(tag), agent });
      assert.equal(reply.body, tag === undefined || tag.startsWith('-') || tag.length > 63 ? '(base)' : tag);
    }
    const counters = ingressCounters();
    assert.equal(counters.invalidTags.grammar, 1);
    assert.equal(counters.invalidTags.oversize, 1);
    assert.equal(counters.requests.gray, 2);
  });
}

test('laneKoa checks its options at once and is named laneKoa', () => {
  assert.throws(() => laneKoa({ carry: 'x' as never }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.equal(laneKoa().name, 'laneKoa');
});
