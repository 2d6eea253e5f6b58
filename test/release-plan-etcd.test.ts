// Issue 19, "Done when" 2 and 3: two edge processes share one plan in etcd — each step is applied
// by both within the documented bound, `abort` on one is obeyed by both; a gray backend that
// starts answering 5xx at step 2 aborts the plan automatically and gray traffic stops; a healthy
// one walks to 100%.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import {
  DEFAULT_PLAN_RESYNC_INTERVAL_MS,
  DEFAULT_PLAN_TICK_INTERVAL_MS,
  type PlanStatus,
  releasePlan,
} from '@graylane/rules';
import { etcdPlanStore } from '@graylane/rules/etcd';
import { Pool } from 'undici';
import { startEtcd } from './helpers/etcd';
import { listen } from './helpers/listen';
import { measure, type Sample, startEdge, steadyLoad, until } from './helpers/live-edge';

const TOKEN = 'test-admin-token-0123456789';
/** The documented apply bound of a replica: resyncIntervalMs + tickIntervalMs (defaults). */
const APPLY_BOUND_MS = DEFAULT_PLAN_RESYNC_INTERVAL_MS + DEFAULT_PLAN_TICK_INTERVAL_MS;

interface Replica {
  readonly name: string;
  readonly pool: Pool;
  status(): Promise<PlanStatus>;
  admin(action: string): Promise<{ status: number; body: unknown }>;
  lanes(count: number): Promise<Array<string | undefined>>;
}

async function startReplica(
  t: TestContext,
  endpoint: string,
  name: string,
  steps: unknown,
): Promise<Replica> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'fixtures', 'plan-edge.ts')],
    {
      cwd: join(__dirname, '..'),
      env: {
        ...process.env,
        ETCD_ENDPOINT: endpoint,
        PLAN_NAME: 'checkout',
        REPLICA: name,
        ADMIN_TOKEN: TOKEN,
        PLAN_STEPS: JSON.stringify(steps),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  t.after(async () => {
    if (child.exitCode === null) {
      child.stdin?.end();
      await once(child, 'exit');
    }
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { port } = JSON.parse(line) as { port: number };
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  t.after(() => pool.close());
  const json = async (method: 'GET' | 'POST', path: string, token = TOKEN) => {
    const res = await pool.request({ method, path, headers: { authorization: `Bearer ${token}` } });
    return { status: res.statusCode, body: (await res.body.json()) as unknown };
  };
  return {
    name,
    pool,
    async status() {
      return (await json('GET', '/admin/checkout')).body as PlanStatus;
    },
    admin: (action) => json('POST', `/admin/checkout/${action}`),
    async lanes(count) {
      const out: Array<string | undefined> = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < count) {
            const res = await pool.request({
              method: 'GET',
              path: '/',
              headers: { 'x-user': `user-${next++}` },
            });
            await res.body.dump();
            out.push(res.headers['x-lane'] === '-' ? undefined : String(res.headers['x-lane']));
          }
        }),
      );
      return out;
    },
  };
}

/** Waits until both replicas show `weight`, and returns each one's apply lag (appliedAt - updatedAt). */
async function appliedByBoth(
  replicas: readonly Replica[],
  check: (s: PlanStatus) => boolean,
): Promise<number[]> {
  let statuses: PlanStatus[] = [];
  await until('both replicas to apply the state', async () => {
    statuses = await Promise.all(replicas.map((r) => r.status()));
    return statuses.every(check) && new Set(statuses.map((s) => s.updatedAt)).size === 1;
  });
  return statuses.map((s) => Date.parse(s.appliedAt!) - Date.parse(s.updatedAt!));
}

test('two edge processes walk one plan in etcd; abort on one is obeyed by both', async (t) => {
  const etcd = await startEtcd(t);
  const steps = [
    { setWeight: 10 },
    { pause: {} },
    { setWeight: 40 },
    { pause: {} },
    { setWeight: 100 },
    { pause: {} },
  ];
  const [a, b] = await Promise.all([
    startReplica(t, etcd.endpoint, 'a', steps),
    startReplica(t, etcd.endpoint, 'b', steps),
  ]);
  const denied = await a.pool.request({
    method: 'POST',
    path: '/admin/checkout/promote',
    headers: { authorization: 'Bearer wrong-token-wrong-token' },
  });
  await denied.body.dump();
  assert.equal(denied.statusCode, 401);

  const lags: number[] = [];
  lags.push(...(await appliedByBoth([a, b], (s) => s.weight === 10 && s.phase === 'Paused')));
  for (const [promoteOn, weight] of [
    [a, 40],
    [b, 100],
  ] as const) {
    assert.equal((await promoteOn.admin('promote')).status, 200);
    lags.push(...(await appliedByBoth([a, b], (s) => s.weight === weight && s.phase === 'Paused')));
    for (const replica of [a, b]) {
      const lanes = await replica.lanes(2000);
      const share = (lanes.filter((l) => l === 'gray').length / 2000) * 100;
      assert.ok(Math.abs(share - weight) <= 3, `${replica.name} at ${weight}%: ${share}%`);
    }
  }
  assert.equal((await b.admin('abort')).status, 200);
  lags.push(...(await appliedByBoth([a, b], (s) => s.phase === 'Aborted' && s.weight === 0)));
  assert.deepEqual(
    new Set(await a.lanes(200)),
    new Set([undefined]),
    'no gray after the abort on the other replica',
  );
  assert.equal((await a.admin('promote')).status, 409, 'an aborted plan cannot be promoted');
  t.diagnostic(
    `apply lags (ms) of the two replicas per state: ${lags.join(', ')}; bound ${APPLY_BOUND_MS} ms`,
  );
  for (const lag of lags) assert.ok(lag <= APPLY_BOUND_MS, `apply lag ${lag} ms > ${APPLY_BOUND_MS} ms`);
});

/** A gray and a stable backend behind the edge; gray answers 503 while `failing()`. */
async function backends(t: TestContext, failing: () => boolean) {
  const stable = createServer((_, res) => res.end('stable'));
  const gray = createServer((_, res) => {
    res.statusCode = failing() ? 503 : 200;
    res.end('gray');
  });
  const ports = { stable: await listen(stable, t), gray: await listen(gray, t) };
  const pools = {
    stable: new Pool(`http://127.0.0.1:${ports.stable}`),
    gray: new Pool(`http://127.0.0.1:${ports.gray}`),
  };
  t.after(() => Promise.all([pools.stable.close(), pools.gray.close()]));
  return pools;
}

async function walkWithBackend(t: TestContext, name: string, failAtStep: number | null) {
  const etcd = await startEtcd(t);
  const store = etcdPlanStore({ endpoints: etcd.endpoint });
  t.after(() => store.close());
  const plan = releasePlan({
    name,
    lane: 'gray',
    sticky: { header: 'x-user' },
    store,
    steps: [
      { setWeight: 20 },
      { pause: { duration: '1s' } },
      { setWeight: 40 },
      { pause: { duration: '1s' } },
      { setWeight: 60 },
      { pause: { duration: '1s' } },
      { setWeight: 100 },
    ],
    analysis: { minRequests: 50, maxErrorRatio: 0.01 },
  });
  t.after(() => plan.close());
  await plan.ready();
  let firstFailureAt = 0;
  const pools = await backends(t, () => failAtStep !== null && plan.status().step >= failAtStep);
  const edge = await startEdge(t, { rules: plan }, (lane, res) => {
    const pool = lane === 'gray' ? pools.gray : pools.stable;
    void pool.request({ method: 'GET', path: '/' }).then(async (upstream) => {
      await upstream.body.dump();
      if (upstream.statusCode >= 500 && firstFailureAt === 0) firstFailureAt = Date.now();
      res.status(upstream.statusCode).end();
    });
    return true;
  });
  const load = steadyLoad(edge, 200);
  let samples: Sample[] = [];
  try {
    await until(
      `${name} to finish`,
      () => plan.status().phase === 'Completed' || plan.status().phase === 'Aborted',
      30_000,
    );
  } finally {
    samples = await load.stop();
  }
  return { plan, edge, samples, firstFailureAt };
}

test('a gray backend failing from step 2 aborts the plan automatically; gray traffic stops', async (t) => {
  const { plan, edge, samples, firstFailureAt } = await walkWithBackend(t, 'failing', 2);
  const status = plan.status();
  assert.equal(status.phase, 'Aborted');
  assert.match(status.abortReason ?? '', /^analysis: gray 5xx ratio .* > 1\.00% over \d+ requests$/);
  const abortedAt = Date.parse(status.appliedAt!);
  t.diagnostic(`first 5xx -> abort applied: ${abortedAt - firstFailureAt} ms (${status.abortReason})`);
  // Every request decided after the abort (by the aborted version or later) stayed out of gray.
  const after = samples.filter((s) => s.version >= status.version);
  assert.ok(after.every((s) => s.lane === undefined));
  assert.equal(
    samples.filter((s) => s.lane === undefined && s.status !== 200).length,
    0,
    'stable never failed',
  );
  assert.deepEqual(new Set((await measure(edge, 'after', 300)).map((s) => s.lane)), new Set([undefined]));
});

test('a healthy gray backend walks the plan to 100%', async (t) => {
  const { plan, edge, samples } = await walkWithBackend(t, 'healthy', null);
  assert.equal(plan.status().phase, 'Completed', plan.status().abortReason ?? '');
  assert.equal(samples.filter((s) => s.status !== 200).length, 0);
  assert.deepEqual(new Set((await measure(edge, 'after', 300)).map((s) => s.lane)), new Set(['gray']));
});
