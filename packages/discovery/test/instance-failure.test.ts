// Issue 14 "Done when", HTTP clients (undici laneDispatcher and the axios integration), real
// servers on loopback: a dead gray instance beside a healthy one, a dead gray alone (permissive
// and strict), a hung gray, and recovery after the ejection time.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import { type createDiscovery, laneAxiosDiscovery, type OutlierMessage } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import axios from 'axios';
import { request } from 'undici';
import { channelMessages, loopbackDiscovery, until } from './helpers';

async function named(t: TestContext, name: string, port = 0): Promise<{ port: number; server: Server }> {
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
  return { port: (server.address() as AddressInfo).port, server };
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

/** Accepts connections and requests, never answers. */
async function hung(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer(() => {});
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

interface Client {
  /** Sends GET http://svc-b/ in `lane`; resolves to the body (the instance name). */
  send(lane: string | undefined): Promise<string>;
}

interface ClientOptions {
  readonly timeoutMs?: number;
}

const CLIENTS: Record<
  string,
  (t: TestContext, discovery: ReturnType<typeof createDiscovery>, o: ClientOptions) => Client
> = {
  'undici laneDispatcher': (t, discovery, o) => {
    const dispatcher = laneDispatcher({
      discovery,
      ...(o.timeoutMs === undefined ? {} : { headersTimeoutMs: o.timeoutMs }),
    });
    t.after(() => dispatcher.close());
    const get = async () => (await request('http://svc-b/', { dispatcher })).body.text();
    return { send: (lane) => (lane === undefined ? get() : withLane(lane, get)) };
  },
  'axios laneAxiosDiscovery': (_t, discovery, o) => {
    const http = axios.create({ responseType: 'text' });
    laneAxiosDiscovery(http, { discovery, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
    const get = async () => String((await http.get('http://svc-b/')).data);
    return { send: (lane) => (lane === undefined ? get() : withLane(lane, get)) };
  },
};

const outliers = (t: TestContext) => channelMessages<OutlierMessage>(t, 'graylane:discovery:outlier');

/** Sends `total` requests in `lane`, `concurrency` at a time; records each result in order of completion. */
async function load(client: Client, lane: string | undefined, total: number, concurrency: number) {
  const results: Array<{ ok: boolean; body?: string; code?: string; ms: number; at: number }> = [];
  let next = 0;
  async function worker() {
    while (next < total) {
      next++;
      const started = Date.now();
      try {
        const body = await client.send(lane);
        results.push({ ok: true, body, ms: Date.now() - started, at: Date.now() });
      } catch (error) {
        const e = error as { code?: string; cause?: { code?: string } };
        results.push({ ok: false, code: e.code ?? e.cause?.code, ms: Date.now() - started, at: Date.now() });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

for (const [name, makeClient] of Object.entries(CLIENTS)) {
  test(`${name}: a dead gray beside a healthy gray: <= 1% of 2,000 gray requests fail, none after ejection`, async (t) => {
    const messages = outliers(t);
    const stable = await named(t, 'stable');
    const gray = await named(t, 'gray-ok');
    const dead = await deadPort();
    const discovery = await loopbackDiscovery(t, [
      { id: 'stable', port: stable.port },
      { id: 'gray-ok', port: gray.port, gray: true },
      { id: 'gray-dead', port: dead, gray: true },
    ]);
    const client = makeClient(t, discovery, {});
    const results = await load(client, 'gray', 2_000, 20);
    const failed = results.filter((r) => !r.ok);
    const ejectedAt = messages.find((m) => m.event === 'ejected' && m.instance.id === 'gray-dead');
    assert.ok(ejectedAt, 'the dead instance was ejected');
    assert.ok(failed.length <= 20, `${failed.length} of 2,000 failed`);
    assert.ok(
      results.every((r) => !r.ok || r.body === 'gray-ok'),
      'gray requests stay in the gray lane',
    );
    t.diagnostic(
      `failed ${failed.length} of 2000 (codes: ${[...new Set(failed.map((f) => f.code))].join(',')})`,
    );
    // None after the ejection: a second batch sees only the healthy gray instance.
    const after = await load(client, 'gray', 200, 10);
    assert.equal(after.filter((r) => !r.ok).length, 0);
    assert.equal(
      discovery.snapshot().services['svc-b']!.lanes.find((l) => l.lane === 'gray')!.ejected,
      1,
      'ejection visible in snapshot()',
    );
  });

  test(`${name}: only a dead gray: gray falls back to base (<= 1% fail); strict: the typed error`, async (t) => {
    const stable = await named(t, 'stable');
    const dead = await deadPort();
    const instances = [
      { id: 'stable', port: stable.port },
      { id: 'gray-dead', port: dead, gray: true },
    ];
    const permissive = makeClient(t, await loopbackDiscovery(t, instances), {});
    const results = await load(permissive, 'gray', 2_000, 20);
    const failed = results.filter((r) => !r.ok).length;
    assert.ok(failed <= 20, `${failed} of 2,000 failed`);
    assert.ok(results.every((r) => !r.ok || r.body === 'stable'));
    t.diagnostic(`permissive: failed ${failed} of 2000`);

    const strictDiscovery = await loopbackDiscovery(t, instances, { strict: true });
    const strict = makeClient(t, strictDiscovery, {});
    const strictResults = await load(strict, 'gray', 200, 5);
    assert.ok(
      strictResults.every((r) => !r.ok),
      'strict: no gray request goes to base',
    );
    const codes = strictResults.map((r) => r.code);
    // The requests in flight when it was ejected fail with the connect error; every later one
    // gets the typed error of a lane with no instance.
    const typed = codes.filter((c) => c === 'GL_ERR_NO_INSTANCE').length;
    assert.ok(
      typed >= 190,
      `${typed} of 200 got GL_ERR_NO_INSTANCE (${JSON.stringify([...new Set(codes)])})`,
    );
    assert.ok(codes.every((c) => c === 'GL_ERR_NO_INSTANCE' || c === 'ECONNREFUSED'));
    // Untagged traffic is untouched.
    assert.equal(await strict.send(undefined), 'stable');
  });

  test(`${name}: a hung gray: requests end at the configured timeout and it is ejected`, async (t) => {
    const messages = outliers(t);
    const gray = await named(t, 'gray-ok');
    const stuck = await hung(t);
    const discovery = await loopbackDiscovery(
      t,
      [
        { id: 'gray-ok', port: gray.port, gray: true },
        { id: 'gray-hung', port: stuck, gray: true },
      ],
      { outlier: { consecutiveFailures: 2 } },
    );
    const client = makeClient(t, discovery, { timeoutMs: 300 });
    const results = await load(client, 'gray', 40, 1);
    const failed = results.filter((r) => !r.ok);
    assert.ok(failed.length >= 1 && failed.length <= 2, `${failed.length} failed`);
    for (const f of failed) assert.ok(f.ms < 10_000, `ended at the timeout (${f.ms} ms)`);
    assert.ok(
      messages.some((m) => m.event === 'ejected' && m.instance.id === 'gray-hung' && m.reason === 'timeout'),
    );
    assert.ok(results.slice(-20).every((r) => r.ok && r.body === 'gray-ok'));
  });

  test(`${name}: an ejected instance that recovers gets traffic again after its ejection time`, async (t) => {
    const messages = outliers(t);
    const gray = await named(t, 'gray-ok');
    const port = await deadPort();
    const discovery = await loopbackDiscovery(
      t,
      [
        { id: 'gray-ok', port: gray.port, gray: true },
        { id: 'gray-back', port, gray: true },
      ],
      { outlier: { baseEjectionMs: 300 } },
    );
    const client = makeClient(t, discovery, {});
    await load(client, 'gray', 50, 2);
    assert.ok(messages.some((m) => m.event === 'ejected' && m.instance.id === 'gray-back'));
    await named(t, 'gray-back', port); // it comes back on the same address
    await until(() => messages.some((m) => m.event === 'returned'), 'the return');
    const seen = new Set<string>();
    await until(() => {
      void client.send('gray').then(
        (body) => seen.add(body),
        () => undefined,
      );
      return seen.has('gray-back');
    }, 'traffic to the recovered instance');
  });
}
