import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PropagationHandle, withLane } from '@graylane/core';
import type { Dispatcher } from 'undici';
import { type ChainOptions, headersSeen, lanesSeen, startChain } from './chain';
import { listen } from './listen';

/** Tags that are not lanes: ignored at the edge, so nothing is forwarded. */
export const INVALID_TAGS = ['-bad', 'x'.repeat(64), 'gr ay', 'a/b'] as const;

/**
 * The contract every automatically hooked client must meet, on a 3-hop chain edge -> a -> b whose
 * hops call each other with `options.client` and no lane code:
 * a tagged request reaches b in its lane; untagged and invalid tags deliver no header; a header
 * the caller sets explicitly is kept; after `disable()` nothing is added any more.
 * `enable` switches propagation on for this test; its handle is disabled here.
 */
export async function checkAutomaticClient(
  t: TestContext,
  enable: () => PropagationHandle,
  options: ChainOptions,
): Promise<void> {
  const propagation = enable();
  t.after(() => propagation.disable());
  const chain = await startChain(t, options);

  let report = await chain.send({ 'x-mse-tag': 'gray' });
  assert.deepEqual(headersSeen(report), ['gray', 'gray', 'gray'], 'tagged: header at every hop');
  assert.deepEqual(lanesSeen(report), ['gray', 'gray', 'gray'], 'tagged: lane at every hop');

  report = await chain.send();
  assert.deepEqual(headersSeen(report), [null, null, null], 'untagged: no header anywhere');
  assert.deepEqual(lanesSeen(report), [null, null, null], 'untagged: base lane everywhere');

  for (const bad of INVALID_TAGS) {
    report = await chain.send({ 'x-mse-tag': bad });
    assert.deepEqual(
      headersSeen(report),
      [bad, null, null],
      `invalid ${JSON.stringify(bad)} is not forwarded`,
    );
    assert.deepEqual(lanesSeen(report), [null, null, null]);
  }

  // The edge is in lane gray but sets `X-Mse-Tag: blue` itself: blue is kept, not doubled.
  report = await chain.send({ 'x-mse-tag': 'gray' }, 'blue');
  assert.deepEqual(headersSeen(report), ['gray', 'blue', 'blue'], 'explicit header respected');
  assert.deepEqual(lanesSeen(report), ['gray', 'blue', 'blue']);

  // A lane that differs per request on the same (kept-alive) connections.
  for (const lane of ['feature-x', 'gray', 'v1.2_3']) {
    report = await chain.send({ 'x-mse-tag': lane });
    assert.deepEqual(headersSeen(report), [lane, lane, lane]);
  }

  propagation.disable();
  report = await chain.send({ 'x-mse-tag': 'gray' });
  assert.deepEqual(headersSeen(report), ['gray', null, null], 'after disable(): nothing is added');
  assert.deepEqual(lanesSeen(report), ['gray', null, null]);
}

/**
 * The contract of an explicit (hook-free) form: the same chain delivers the lane without
 * `enablePropagation`, keeps an explicit header and adds nothing outside a lane.
 */
export async function checkExplicitClient(t: TestContext, options: ChainOptions): Promise<void> {
  const chain = await startChain(t, options);
  let report = await chain.send({ 'x-mse-tag': 'gray' });
  assert.deepEqual(headersSeen(report), ['gray', 'gray', 'gray']);
  assert.deepEqual(lanesSeen(report), ['gray', 'gray', 'gray']);
  report = await chain.send();
  assert.deepEqual(headersSeen(report), [null, null, null]);
  for (const bad of INVALID_TAGS) {
    report = await chain.send({ 'x-mse-tag': bad });
    assert.deepEqual(headersSeen(report), [bad, null, null]);
  }
  report = await chain.send({ 'x-mse-tag': 'gray' }, 'blue');
  assert.deepEqual(headersSeen(report), ['gray', 'blue', 'blue']);
}

/**
 * A server on 127.0.0.1:0 that answers every request with the `x-mse-tag` it received (`''` when
 * none) after `delayMs`, and records each request's headers in `seen`. Closed in `t.after`.
 */
export async function laneEchoServer(
  t: TestContext,
  delayMs = 0,
): Promise<{ origin: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    setTimeout(() => res.end(String(req.headers['x-mse-tag'] ?? '')), delayMs);
  });
  const port = await listen(server, t);
  return { origin: `http://127.0.0.1:${port}`, seen };
}

/**
 * Starts one request per entry of `lanes` (`undefined`: no lane) at once, staggered by 0-2 ms,
 * through `pool` (a Pool with `connections: 1` queues them) to a {@link laneEchoServer}, and
 * asserts that every response echoes the lane its own request was made in.
 */
export async function checkQueuedLanes(
  pool: Dispatcher,
  lanes: readonly (string | undefined)[],
): Promise<void> {
  const results = await Promise.all(
    lanes.map((lane, i) =>
      withLane(lane, async () => {
        await sleep(i % 3);
        const res = await pool.request({ path: '/', method: 'GET' });
        return res.body.text();
      }),
    ),
  );
  assert.deepEqual(
    results,
    lanes.map((lane) => lane ?? ''),
  );
}
