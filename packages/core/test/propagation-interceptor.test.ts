// laneInterceptor at the dispatch level: what it hands the next dispatch in the base lane and in a
// lane, with and without the automatic undici mode, and queued requests keeping their lane.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createLaneContext,
  enablePropagation,
  laneInterceptor,
  propagationCounters,
  withLane,
  withLaneContext,
} from '@graylane/core';
import { Pool, fetch as undiciFetch } from 'undici';
import { listen } from '../../../test/helpers/listen';

interface Options {
  readonly path: string;
  readonly headers?: unknown;
}

/** The interceptor over a dispatch that records what it was given. */
function recordingDispatch(): { dispatch: (opts: Options, handler: unknown) => boolean; got: Options[] } {
  const got: Options[] = [];
  const next = (opts: Options) => {
    got.push(opts);
    return true;
  };
  return { dispatch: laneInterceptor()(next as never) as never, got };
}

test('base lane without the automatic hook: the caller options object itself goes on', () => {
  const { dispatch, got } = recordingDispatch();
  for (const headers of [undefined, { accept: 'text/plain' }, ['accept', 'text/plain']]) {
    const opts: Options = { path: '/', headers };
    dispatch(opts, {});
    assert.equal(got.at(-1), opts);
  }
});

test('in a lane: a copy in the caller shape carries the lane; the caller object is untouched', () => {
  const { dispatch, got } = recordingDispatch();
  const record = { path: '/', headers: { accept: 'text/plain' } };
  const flat = { path: '/', headers: ['accept', 'text/plain'] };
  const none = { path: '/' };
  const pairs = { path: '/', headers: new Map([['accept', 'text/plain']]) };
  withLane('gray', () => {
    for (const opts of [record, flat, none, pairs]) dispatch(opts, {});
  });
  assert.deepEqual(
    got.map((o) => o.headers),
    [
      { accept: 'text/plain', 'x-mse-tag': 'gray' },
      ['accept', 'text/plain', 'x-mse-tag', 'gray'],
      ['x-mse-tag', 'gray'],
      ['accept', 'text/plain', 'x-mse-tag', 'gray'],
    ],
  );
  assert.deepEqual(record.headers, { accept: 'text/plain' });
  assert.deepEqual(flat.headers, ['accept', 'text/plain']);
  assert.equal(Object.hasOwn(none, 'headers'), false);
  assert.deepEqual([...pairs.headers], [['accept', 'text/plain']]);
  // Every other option is kept.
  assert.ok(got.every((o) => o.path === '/'));
});

test('with the automatic mode on, base-lane requests still go on untouched; lane requests are copies', (t) => {
  const propagation = enablePropagation({ http: false, openTelemetry: false });
  t.after(() => propagation.disable());
  const { dispatch, got } = recordingDispatch();
  const opts: Options = { path: '/', headers: { accept: 'text/plain' } };
  dispatch(opts, {});
  assert.equal(got.at(-1), opts, 'no copy, no mark: nothing allocated in the base lane');
  withLaneContext(createLaneContext('gray', [['x-user', '7']]), () => dispatch(opts, {}));
  assert.deepEqual(got.at(-1)!.headers, { accept: 'text/plain', 'x-mse-tag': 'gray', 'x-user': '7' });
  assert.deepEqual(opts.headers, { accept: 'text/plain' });
});

async function recorder(t: TestContext): Promise<{ origin: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    setTimeout(() => res.end(String(req.headers['x-mse-tag'] ?? '')), 5);
  });
  const port = await listen(server, t);
  return { origin: `http://127.0.0.1:${port}`, seen };
}

// undici creates a queued request late (behind the connection limit, from another request's socket
// callback), in another request's context. The interceptor decided at dispatch time, and the
// automatic mode's guard leaves such requests alone — in the base lane as much as in a lane.
test('fetch through a composed Pool with connections: 1 and the automatic hook: each request keeps its lane', async (t) => {
  const propagation = enablePropagation({ http: false, openTelemetry: false });
  t.after(() => propagation.disable());
  const { origin, seen } = await recorder(t);
  const pool = new Pool(origin, { connections: 1 }).compose(laneInterceptor());
  t.after(() => pool.close());
  const lanes = ['gray', undefined, 'blue', undefined, 'gray', undefined, 'v2', undefined];
  const results = await Promise.all(
    lanes.map((lane, i) =>
      withLane(lane, async () => {
        await sleep(i % 2);
        const res = await undiciFetch(`${origin}/`, { dispatcher: pool });
        return res.text();
      }),
    ),
  );
  assert.deepEqual(
    results,
    lanes.map((lane) => lane ?? ''),
  );
  assert.equal(seen.length, lanes.length);
  assert.equal(propagationCounters().unintercepted, 0, 'the guard took none of them for a bypass');
});
