// Warm-up through the gRPC lane channel, real servers on loopback: a gray instance registered
// beside a running one receives a share of the lane's calls that grows over discovery's warm-up
// window (the picker chooses through discovery.choose(), whose buckets carry the ramp). Wide
// bounds: the machine is shared and slow.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { laneServerInterceptor } from '@graylane/grpc';
import { startEchoServer, unary } from './helpers/echo';
import { GRAY, startFleet } from './helpers/lane-fleet';

const WINDOW_MS = 6_000;

test('gRPC lane channel: a gray instance registered beside a running one ramps up over the warm-up window', async (t) => {
  const fleet = await startFleet(t, {
    scheme: 'graylane-warmup-1',
    service: 'svc-b',
    members: [{ name: 'gray-old', labels: GRAY }],
    discovery: { warmup: { durationMs: WINDOW_MS } },
  });
  const client = fleet.client('svc-b');
  const call = async () => (await withLane('gray', () => unary(client))).served_by;
  assert.equal(await call(), 'gray-old');
  const { port } = await startEchoServer({ name: 'gray-new', interceptors: [laneServerInterceptor()] }, t);
  const registration = await fleet.registry.register({
    service: 'svc-b',
    id: 'gray-new',
    host: '127.0.0.1',
    port,
    labels: GRAY,
  });
  t.after(() => registration.close());
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gray-new never arrived')), 5_000);
    const unwatch = fleet.discovery.watch('svc-b', (set) => {
      if (set.length !== 2) return;
      clearTimeout(timer);
      unwatch();
      resolve();
    });
  });
  const t0 = Date.now();
  const results: Array<{ at: number; servedBy: string }> = [];
  async function worker() {
    while (Date.now() - t0 < WINDOW_MS * 1.35) {
      const at = Date.now() - t0;
      results.push({ at, servedBy: await call() });
    }
  }
  await Promise.all(Array.from({ length: 6 }, worker));
  const share = (from: number, to: number) => {
    const w = results.filter((r) => r.at >= from && r.at < to);
    return { n: w.length, share: w.filter((r) => r.servedBy === 'gray-new').length / Math.max(1, w.length) };
  };
  const first = share(0, WINDOW_MS / 4);
  const second = share(WINDOW_MS / 4, WINDOW_MS / 2);
  const last = share(WINDOW_MS * 0.8, WINDOW_MS);
  const after = share(WINDOW_MS * 1.15, WINDOW_MS * 1.35);
  t.diagnostic(
    `gray-new share (n): first quarter ${first.share.toFixed(3)} (${first.n}), second ${second.share.toFixed(3)} (${second.n}), ` +
      `last fifth ${last.share.toFixed(3)} (${last.n}), after ${after.share.toFixed(3)} (${after.n}); steady 0.5`,
  );
  for (const w of [first, second, last, after]) assert.ok(w.n >= 20, `too few calls in a window: ${w.n}`);
  assert.ok(first.share > 0, 'it gets some calls from the start');
  assert.ok(first.share < 0.25, `first quarter: ${first.share} is not clearly below half its steady share`);
  assert.ok(second.share > first.share, 'the share grows');
  assert.ok(last.share > 0.35, `last fifth: ${last.share} is not near the steady 0.5`);
  assert.ok(after.share > 0.4 && after.share < 0.6, `after the window: ${after.share}, steady is 0.5`);
});
