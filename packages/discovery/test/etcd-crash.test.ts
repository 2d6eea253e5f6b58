// Issue 14: SIGKILL of a gray instance registered in etcd, under a steady 200 req/s in its lane.
// Its key lives until the lease TTL expires (3 s here; 10 s by default); meanwhile the dead
// instance refuses connections: those requests are retried on another instance of the same
// routing decision and it is ejected. Failed requests of the lane over the TTL must stay <= 2%.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import type { Discovery } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { request } from 'undici';
import { startEtcdDiscovery } from '../../../test/helpers/etcd';

const CHILD = join(__dirname, 'etcd-http-child.mjs');
const TTL_S = 3;

async function startChild(t: TestContext, endpoint: string, name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, endpoint, name, 'gray', String(TTL_S)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`child exited (${code}) before registering:\n${stderr}`);
  });
  await Promise.race([once(lines, 'line'), exited]);
  lines.close();
  return child;
}

function seen(discovery: Discovery, match: (ids: string[]) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const unwatch = discovery.watch('svc-b', (instances) => {
      if (!match(instances.map((i) => i.id))) return;
      unwatch();
      resolve();
    });
  });
}

test('SIGKILL of an etcd-registered gray under 200 req/s: <= 2% of the lane fails over the lease TTL', async (t) => {
  const { etcd, discovery, writer } = await startEtcdDiscovery(t);
  const stable = createServer((_req, res) => res.end('stable'));
  stable.listen(0, '127.0.0.1');
  await once(stable, 'listening');
  t.after(() => new Promise<void>((resolve) => stable.close(() => resolve())));
  const stableReg = await writer.register({
    service: 'svc-b',
    id: 'stable',
    host: '127.0.0.1',
    port: (stable.address() as AddressInfo).port,
  });
  t.after(() => stableReg.close());
  const visible = seen(discovery, (ids) => ids.includes('gray-1') && ids.includes('gray-2'));
  const gray1 = await startChild(t, etcd.endpoint, 'gray-1');
  await startChild(t, etcd.endpoint, 'gray-2');
  await visible;

  const dispatcher = laneDispatcher({ discovery });
  t.after(() => dispatcher.close());
  let phase: 'before' | 'after' = 'before';
  const counts = { before: { ok: 0, failed: 0 }, after: { ok: 0, failed: 0 } };
  const errors = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const bucket = counts[phase];
    const p = withLane('gray', async () => {
      try {
        const res = await request('http://svc-b/', { dispatcher });
        await res.body.text();
        bucket.ok++;
      } catch (error) {
        // Counted when it failed: a request in flight at the kill fails after it.
        counts[phase].failed++;
        const code = (error as { code?: string }).code ?? String(error);
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, 5);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    phase = 'after';
    gray1.kill('SIGKILL');
    const gone = seen(discovery, (ids) => !ids.includes('gray-1'));
    await gone; // the lease expired: etcd removed the key
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    clearInterval(timer);
    await Promise.all(inFlight);
  }
  const after = counts.after;
  const total = after.ok + after.failed;
  t.diagnostic(
    `after SIGKILL until the lease expired: ${after.failed} of ${total} gray requests failed ${JSON.stringify([...errors])}`,
  );
  assert.ok(total > 100, `${total} requests over the TTL`);
  assert.ok(after.failed <= total * 0.02, `${after.failed} of ${total} failed`);
  assert.equal(counts.before.failed, 0);
});
