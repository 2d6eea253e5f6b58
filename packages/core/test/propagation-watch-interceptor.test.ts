// The forgotten-enablePropagation watch and laneInterceptor: a service that forwards lanes with the
// explicit interceptor only (no enablePropagation) is not warned about — not even for base-lane
// requests that undici queued and created in a lane request's context. A Pool without the
// interceptor is. Own process: the warning is once per process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { countIngress, laneInterceptor, propagationCounters, withLane } from '@graylane/core';
import { type Dispatcher, Pool } from 'undici';
import { laneEchoServer } from '../../../test/helpers/chain-cases';

const LANES = ['gray', undefined, 'blue', undefined, 'gray', undefined, 'v2', undefined, 'blue', undefined];

async function sendAll(dispatcher: Dispatcher): Promise<string[]> {
  return Promise.all(
    LANES.map((lane, i) =>
      withLane(lane, async () => {
        await sleep(i % 3);
        return (await dispatcher.request({ path: '/', method: 'GET' })).body.text();
      }),
    ),
  );
}

test('laneInterceptor without enablePropagation: no warning; a bare Pool: one', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code?.startsWith('GL_WARN_') === true) warnings.push(warning.code);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const { origin } = await laneEchoServer(t, 2);
  countIngress('gray'); // lanes arrive at this service

  const pool = new Pool(origin, { connections: 1 });
  t.after(() => pool.close());
  const composed = pool.compose(laneInterceptor());
  for (let round = 0; round < 5; round++) {
    assert.deepEqual(
      await sendAll(composed),
      LANES.map((lane) => lane ?? ''),
    );
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(propagationCounters().unpropagated, 0);
  assert.deepEqual(warnings, []);

  // Positive control: the same Pool without the interceptor.
  await sendAll(pool);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(propagationCounters().unpropagated > 0);
  assert.deepEqual(warnings, ['GL_WARN_PROPAGATION_NOT_ENABLED']);
});
