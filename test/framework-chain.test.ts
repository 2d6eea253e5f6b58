// Lanes across frameworks: a 3-hop chain per framework (Express 5, Fastify 5 and 4, Koa 3 and 2,
// NestJS on both HTTP platforms, plain node:http) and a mixed chain Express -> Fastify -> Koa ->
// NestJS -> node:http. Every hop awaits a timer, then calls the next hop with the global fetch and
// no lane code (automatic propagation). Isolation under load: test/framework-isolation.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enable, FRAMEWORKS, flatten, MIXED, send, startChain } from './helpers/framework-hops';

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
