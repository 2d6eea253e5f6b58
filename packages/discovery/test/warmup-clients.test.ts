// Warm-up through the HTTP clients (undici laneDispatcher, axios laneAxiosDiscovery), real servers
// on loopback: a gray instance registered beside a running one receives a share of the lane's
// requests that grows over the window, and one returning from ejection is ramped only with
// `afterEjection`. Shapes are asserted with wide bounds: the machine is shared and slow.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import {
  createDiscovery,
  type Discovery,
  type DiscoveryOptions,
  laneAxiosDiscovery,
  type OutlierMessage,
  staticRegistry,
} from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import axios from 'axios';
import { request } from 'undici';
import { channelMessages, GRAY, nextSet, until } from './helpers';

const WINDOW_MS = 6_000;

/** A server answering its name; closed after the test. */
async function named(t: TestContext, name: string, port = 0): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.end(name));
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on (bound, then closed): connections are refused. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Send = () => Promise<string>;

const CLIENTS: Record<string, (t: TestContext, discovery: Discovery) => Send> = {
  'undici laneDispatcher': (t, discovery) => {
    const dispatcher = laneDispatcher({ discovery });
    t.after(() => dispatcher.close());
    const get = async () => (await request('http://svc-b/', { dispatcher })).body.text();
    return () => withLane('gray', get);
  },
  'axios laneAxiosDiscovery': (_t, discovery) => {
    const http = axios.create({ responseType: 'text' });
    laneAxiosDiscovery(http, { discovery });
    const get = async () => String((await http.get('http://svc-b/')).data);
    return () => withLane('gray', get);
  },
};

function gray(id: string, port: number) {
  return { service: 'svc-b', id, host: '127.0.0.1', port, labels: GRAY };
}

async function fixture(
  t: TestContext,
  instances: ReturnType<typeof gray>[],
  options: Omit<DiscoveryOptions, 'registry'>,
) {
  const registry = staticRegistry({ env: false, instances });
  const discovery = createDiscovery({ registry, ...options });
  t.after(async () => {
    await discovery.close();
    await registry.close();
  });
  await discovery.ready('svc-b');
  return { registry, discovery };
}

/** Sends requests, `concurrency` at a time, until `untilMs` after `t0`; each result with its send time. */
async function run(send: Send, t0: number, untilMs: number, concurrency: number) {
  const results: Array<{ at: number; body: string }> = [];
  async function worker() {
    while (Date.now() - t0 < untilMs) {
      const at = Date.now() - t0;
      results.push({ at, body: await send() });
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** Share of `id` among the results sent in [from, to) ms, and how many there were. */
function share(results: Array<{ at: number; body: string }>, id: string, from: number, to: number) {
  const inWindow = results.filter((r) => r.at >= from && r.at < to);
  const n = inWindow.length;
  return { n, share: n === 0 ? Number.NaN : inWindow.filter((r) => r.body === id).length / n };
}

for (const [name, makeClient] of Object.entries(CLIENTS)) {
  test(`${name}: a gray instance registered beside a running one ramps up over the warm-up window`, async (t) => {
    const oldPort = await named(t, 'gray-old');
    const newPort = await named(t, 'gray-new');
    const { registry, discovery } = await fixture(t, [gray('gray-old', oldPort)], {
      warmup: { durationMs: WINDOW_MS },
    });
    const send = makeClient(t, discovery);
    assert.equal(await send(), 'gray-old');
    const registration = await registry.register(gray('gray-new', newPort));
    t.after(() => registration.close());
    await nextSet(discovery, 'svc-b', (set) => set.length === 2);
    const t0 = Date.now();
    const results = await run(send, t0, WINDOW_MS * 1.35, 6);
    const first = share(results, 'gray-new', 0, WINDOW_MS / 4);
    const second = share(results, 'gray-new', WINDOW_MS / 4, WINDOW_MS / 2);
    const last = share(results, 'gray-new', WINDOW_MS * 0.8, WINDOW_MS);
    const after = share(results, 'gray-new', WINDOW_MS * 1.15, WINDOW_MS * 1.35);
    t.diagnostic(
      `gray-new share (n): first quarter ${first.share.toFixed(3)} (${first.n}), second ${second.share.toFixed(3)} (${second.n}), ` +
        `last fifth ${last.share.toFixed(3)} (${last.n}), after ${after.share.toFixed(3)} (${after.n}); steady 0.5`,
    );
    for (const w of [first, second, last, after])
      assert.ok(w.n >= 20, `too few requests in a window: ${w.n}`);
    // Linear ramp from 10%: the first quarter gives the new instance 10..25% of its weight,
    // i.e. a share of ~0.09..0.2 against the steady 0.5; the last fifth 80..100%, ~0.44..0.5.
    assert.ok(first.share > 0, 'it gets some traffic from the start');
    assert.ok(first.share < 0.25, `first quarter: ${first.share} is not clearly below half its steady share`);
    assert.ok(second.share > first.share, 'the share grows');
    assert.ok(last.share > 0.35, `last fifth: ${last.share} is not near the steady 0.5`);
    assert.ok(after.share > 0.4 && after.share < 0.6, `after the window: ${after.share}, steady is 0.5`);
  });
}

const outliers = (t: TestContext) => channelMessages<OutlierMessage>(t, 'graylane:discovery:outlier');

for (const afterEjection of [false, true]) {
  test(`undici laneDispatcher: an instance back from ejection gets ${afterEjection ? 'a ramped' : 'its full'} share (afterEjection: ${afterEjection})`, async (t) => {
    const messages = outliers(t);
    const okPort = await named(t, 'gray-ok');
    const backPort = await deadPort();
    const { discovery } = await fixture(t, [gray('gray-ok', okPort), gray('gray-back', backPort)], {
      outlier: { baseEjectionMs: 300 },
      warmup: { durationMs: 60_000, afterEjection },
    });
    const send = makeClientFor(t, discovery);
    // Refused connections are retried on gray-ok; the third in a row ejects gray-back.
    for (let i = 0; i < 20; i++) assert.equal(await send(), 'gray-ok');
    assert.ok(messages.some((m) => m.event === 'ejected' && m.instance.id === 'gray-back'));
    await named(t, 'gray-back', backPort); // it comes back on the same address
    await until(() => messages.some((m) => m.event === 'returned'), 'the return');
    const results = await run(send, Date.now(), 1_000, 2);
    const back = share(results, 'gray-back', 0, 1_000);
    t.diagnostic(`gray-back share after its return: ${back.share.toFixed(3)} of ${back.n}`);
    assert.ok(back.n >= 20, `too few requests: ${back.n}`);
    if (afterEjection) assert.ok(back.share > 0 && back.share < 0.25, `ramped: ${back.share}`);
    else assert.ok(back.share > 0.4, `full share at once: ${back.share}`);
  });
}

function makeClientFor(t: TestContext, discovery: Discovery): Send {
  return CLIENTS['undici laneDispatcher']!(t, discovery);
}
