// Issue 14 "Done when" for the gRPC lane channel, real servers on loopback: a dead gray instance
// beside a healthy one, a dead gray alone (permissive and strict), and recovery after ejection.
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import type { OutlierMessage } from '@graylane/discovery';
import { ERROR_CODE_METADATA_KEY, laneServerInterceptor } from '@graylane/grpc';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type EchoClient, startEchoServer, unary } from './helpers/echo';
import { type Fleet, GRAY, startFleet } from './helpers/lane-fleet';

/** A port nothing listens on (bound, then closed): connections are refused. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function addDead(t: TestContext, fleet: Fleet, id: string, port?: number): Promise<number> {
  const dead = port ?? (await deadPort());
  const registration = await fleet.registry.register({
    service: 'svc-b',
    id,
    host: '127.0.0.1',
    port: dead,
    labels: GRAY,
  });
  t.after(() => registration.close());
  return dead;
}

async function load(client: EchoClient, lane: string, total: number, concurrency: number) {
  const results: Array<{ ok: boolean; servedBy?: string; error?: ServiceError }> = [];
  let next = 0;
  async function worker() {
    while (next < total) {
      next++;
      try {
        const reply = await withLane(lane, () => unary(client));
        results.push({ ok: true, servedBy: reply.served_by });
      } catch (error) {
        results.push({ ok: false, error: error as ServiceError });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

function outliers(t: TestContext): OutlierMessage[] {
  const messages: OutlierMessage[] = [];
  const on = (m: unknown) => messages.push(m as OutlierMessage);
  diagnosticsChannel.subscribe('graylane:discovery:outlier', on);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:discovery:outlier', on));
  return messages;
}

test('gRPC lane channel: a dead gray beside a healthy gray: <= 1% of 2,000 gray calls fail, none after ejection', async (t) => {
  const messages = outliers(t);
  const fleet = await startFleet(t, {
    scheme: 'graylane-eject-1',
    service: 'svc-b',
    members: [{ name: 'b-stable' }, { name: 'b-gray', labels: GRAY }],
  });
  await addDead(t, fleet, 'gray-dead');
  const client = fleet.client('svc-b');
  const results = await load(client, 'gray', 2_000, 20);
  const failed = results.filter((r) => !r.ok);
  t.diagnostic(`failed ${failed.length} of 2000`);
  assert.ok(failed.length <= 20, `${failed.length} of 2,000 failed: ${failed[0]?.error?.message}`);
  assert.ok(
    results.every((r) => !r.ok || r.servedBy === 'b-gray'),
    'gray calls stay in the gray lane',
  );
  // Default: ejected after 3 failed connection attempts in a row (grpc-js reconnects with backoff,
  // about 1 s, then 1.6 s): wait for it.
  const deadEjected = () => messages.some((m) => m.event === 'ejected' && m.instance.id === 'gray-dead');
  for (let i = 0; i < 2_000 && !deadEjected(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(deadEjected(), `ejected: ${JSON.stringify(messages)}`);
  const after = await load(client, 'gray', 200, 10);
  assert.equal(after.filter((r) => !r.ok).length, 0, 'none after ejection');
});

test('gRPC lane channel: only a dead gray: gray falls back to base (<= 1% fail); strict: the typed error', async (t) => {
  const fleet = await startFleet(t, {
    scheme: 'graylane-eject-2',
    service: 'svc-b',
    members: [{ name: 'b-stable' }],
  });
  await addDead(t, fleet, 'gray-dead');
  const results = await load(fleet.client('svc-b'), 'gray', 2_000, 20);
  const failed = results.filter((r) => !r.ok);
  t.diagnostic(`permissive: failed ${failed.length} of 2000`);
  assert.ok(failed.length <= 20, `${failed.length} of 2,000 failed: ${failed[0]?.error?.message}`);
  assert.ok(results.every((r) => !r.ok || r.servedBy === 'b-stable'));

  const strict = await startFleet(t, {
    scheme: 'graylane-eject-3',
    service: 'svc-b',
    members: [{ name: 'b-stable' }],
    discovery: { strict: true },
  });
  await addDead(t, strict, 'gray-dead');
  const strictResults = await load(strict.client('svc-b'), 'gray', 100, 5);
  assert.ok(
    strictResults.every((r) => !r.ok),
    'strict: no gray call goes to base',
  );
  for (const r of strictResults) {
    assert.deepEqual(r.error!.metadata.get(`${ERROR_CODE_METADATA_KEY}-cause`), ['GL_ERR_NO_INSTANCE']);
  }
  assert.equal((await unary(strict.client('svc-b'))).served_by, 'b-stable', 'untagged calls are untouched');
});

test('gRPC lane channel: an ejected instance that recovers gets calls again after its ejection time', async (t) => {
  const messages = outliers(t);
  const fleet = await startFleet(t, {
    scheme: 'graylane-eject-4',
    service: 'svc-b',
    members: [{ name: 'b-stable' }, { name: 'b-gray', labels: GRAY }],
    discovery: { outlier: { consecutiveFailures: 1, baseEjectionMs: 300 } },
  });
  const port = await addDead(t, fleet, 'gray-back');
  const client = fleet.client('svc-b');
  await load(client, 'gray', 50, 2);
  for (let i = 0; i < 500 && !messages.some((m) => m.event === 'ejected'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(messages.some((m) => m.event === 'ejected' && m.instance.id === 'gray-back'));
  await startEchoServer({ name: 'gray-back', port, interceptors: [laneServerInterceptor()] }, t);
  const seen = new Set<string>();
  const deadline = Date.now() + 20_000;
  while (!seen.has('gray-back') && Date.now() < deadline) {
    for (const r of await load(client, 'gray', 10, 2)) if (r.ok) seen.add(r.servedBy!);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(seen.has('gray-back'), 'calls reach the recovered instance');
});

test('gRPC lane channel: a hung gray: calls end at their deadline and it is ejected', async (t) => {
  const messages = outliers(t);
  const fleet = await startFleet(t, {
    scheme: 'graylane-eject-5',
    service: 'svc-b',
    members: [{ name: 'b-stable' }, { name: 'b-gray', labels: GRAY }],
    discovery: { outlier: { consecutiveFailures: 2 } },
  });
  // Accepts the call, never answers.
  const { port } = await startEchoServer(
    { name: 'gray-hung', interceptors: [laneServerInterceptor()], downstream: () => new Promise(() => {}) },
    t,
  );
  const registration = await fleet.registry.register({
    service: 'svc-b',
    id: 'gray-hung',
    host: '127.0.0.1',
    port,
    labels: GRAY,
  });
  t.after(() => registration.close());
  const client = fleet.client('svc-b');
  const results: Array<{ ok: boolean; servedBy?: string; code?: number; ms: number }> = [];
  for (let i = 0; i < 40; i++) {
    const started = Date.now();
    try {
      const reply = await withLane(
        'gray',
        () =>
          new Promise<{ served_by: string }>((resolve, reject) => {
            client.Unary({}, new Metadata(), { deadline: Date.now() + 300 }, (error, reply) =>
              error ? reject(error) : resolve(reply!),
            );
          }),
      );
      results.push({ ok: true, servedBy: reply.served_by, ms: Date.now() - started });
    } catch (error) {
      results.push({ ok: false, code: (error as ServiceError).code, ms: Date.now() - started });
    }
  }
  const failed = results.filter((r) => !r.ok);
  assert.ok(failed.length >= 1 && failed.length <= 2, `${failed.length} failed`);
  for (const f of failed) {
    assert.equal(f.code, status.DEADLINE_EXCEEDED);
    assert.ok(f.ms < 10_000, `ended at the deadline (${f.ms} ms)`);
  }
  assert.ok(
    messages.some((m) => m.event === 'ejected' && m.instance.id === 'gray-hung' && m.reason === 'timeout'),
  );
  assert.ok(results.slice(-20).every((r) => r.ok && r.servedBy === 'b-gray'));
});
