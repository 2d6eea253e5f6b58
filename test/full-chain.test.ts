// The full-chain demo, end to end: `npm start` (scripts/start.mjs) on the static registry and on
// etcd exits 0 after checking every walk itself, and its results are asserted here hop by hop:
// which instance served each service and which lane each hop ran in and received. Then, on etcd,
// an instance that gets SIGTERM deregisters at once and gray traffic falls back past it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { DiagnosticsReport } from '@graylane/express';
import { CASES, type DemoResult, runDemo } from '../examples/full-chain/demo';
import type { Hop } from '../examples/full-chain/instance';
import { startChain } from '../examples/full-chain/launcher';
import { startEtcd } from './helpers/etcd';

const root = join(__dirname, '..');

const BASE_WALK = ['a-stable', 'b-stable', 'c-stable'];
const GRAY_WALK = ['a-gray', 'b-stable', 'c-gray']; // no gray svc-b: b-stable serves, the lane survives

/**
 * The lane of each sticky user under the 30% rule. The sticky hash is part of core's contract, so
 * these never change; they also show the draw went both ways.
 */
const STICKY: Readonly<Record<string, string | null>> = {
  alice: 'gray',
  bob: null,
  carol: 'gray',
  dave: null,
  erin: 'gray',
  frank: 'gray',
  grace: 'gray',
  heidi: null,
};

/** What each case must do: the lane, hence the walk. */
function expectedFor(headers: Readonly<Record<string, string>>): string | null {
  if (headers['x-user-id'] !== undefined) return STICKY[headers['x-user-id']]!;
  if (headers['user-agent'] === 'foo' || headers['x-mse-tag'] === 'gray') return 'gray';
  return null; // untagged, invalid tag, a valid tag that is not allowlisted
}

function assertHops(label: string, lane: string | null, hops: readonly Hop[]): void {
  assert.deepEqual(
    hops.map((h) => h.service),
    ['edge', 'svc-a', 'svc-b', 'svc-c'],
    label,
  );
  assert.deepEqual(
    hops.slice(1).map((h) => h.instance),
    lane === 'gray' ? GRAY_WALK : BASE_WALK,
    label,
  );
  for (const hop of hops) {
    assert.equal(hop.lane, lane, `${label}: ${hop.instance} runs in the lane`);
    if (hop.service !== 'edge') assert.equal(hop.tag, lane, `${label}: ${hop.instance} received x-mse-tag`);
  }
}

function assertResult(result: DemoResult): void {
  assert.equal(result.rows.length, CASES.length);
  for (const row of result.rows) {
    const lane = expectedFor(row.headers);
    assert.equal(row.expectedLane, lane, `${row.label}: the demo computes the same lane`);
    assert.equal(row.lane, lane, `${row.label}: the edge's lane`);
    assertHops(row.label, lane, row.hops);
    assert.deepEqual(row.problems, [], row.label);
  }
  const lanes = new Set(result.rows.filter((r) => r.headers['x-user-id']).map((r) => r.lane));
  assert.deepEqual([...lanes].sort(), ['gray', null], 'the weighted rule sent users both ways');
  for (const check of result.checks) assert.ok(check.ok, `${check.what}: ${check.detail}`);
  assert.ok(result.ok);
}

/** Runs `node scripts/start.mjs --no-build ...` (what `npm start` runs after its build). */
async function npmStart(t: TestContext, args: string[]): Promise<{ stdout: string; result: DemoResult }> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const jsonFile = join(dir, 'result.json');
  const env = { ...process.env };
  delete env.ETCD_ENDPOINTS;
  const child = spawn(
    process.execPath,
    [join(root, 'scripts', 'start.mjs'), '--no-build', '--json', jsonFile, ...args],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `npm start failed:\n${stdout}\n${stderr}`);
  return { stdout, result: JSON.parse(readFileSync(jsonFile, 'utf8')) as DemoResult };
}

test('npm start (static registry): every hop of every request as expected, table printed', async (t) => {
  const { stdout, result } = await npmStart(t, []);
  assert.equal(result.registry, 'static');
  assertResult(result);
  assert.match(stdout, /tagged {2}x-mse-tag: gray +gray +a-gray +b-stable \(fallback\) c-gray +ok/);
  assert.match(stdout, /untagged +base +a-stable +b-stable +c-stable +ok/);
  assert.match(stdout, /edge +http:\/\/127\.0\.0\.1:\d+\/graylane\//);
  assert.match(stdout, /every walk and counter as expected/);
});

test('npm start -- --registry etcd: the same walks on a real etcd; SIGTERM leaves no key behind', async (t) => {
  const { stdout, result } = await npmStart(t, ['--registry', 'etcd']);
  assert.equal(result.registry, 'etcd');
  assertResult(result);
  assert.match(stdout, /instance keys left in etcd after SIGTERM: 0/);
});

test('on etcd (ETCD_ENDPOINTS), a SIGTERMed instance deregisters at once and gray falls back past it', async (t) => {
  const etcd = await startEtcd(t);
  const chain = await startChain({ registry: 'etcd', etcdEndpoints: etcd.endpoint });
  t.after(() => chain.stop());
  assert.equal(await chain.etcdKeys(), 5, 'five instances registered on leases');
  assertResult(await runDemo(chain));

  await chain.stopProcess('c-gray');
  // The lease was revoked (TTL 5 s); b-stable's routing table loses c-gray through its watch.
  assert.equal(await chain.etcdKeys(), 4);
  const bDiagnostics = `${chain.processes.get('b-stable')!.diagnostics}graylane.json`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const report = (await (await fetch(bDiagnostics)).json()) as DiagnosticsReport;
    if (!report.routingTable.some((r) => r.id === 'c-gray')) break;
    assert.ok(Date.now() < deadline, 'c-gray left the routing table of b-stable');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const res = await fetch(`${chain.edgeUrl}/walk`, { headers: { 'x-mse-tag': 'gray' } });
  const { hops } = (await res.json()) as { hops: Hop[] };
  assert.deepEqual(
    hops.map((h) => [h.instance, h.lane, h.tag]),
    [
      ['edge', 'gray', null],
      ['a-gray', 'gray', 'gray'],
      ['b-stable', 'gray', 'gray'],
      ['c-stable', 'gray', 'gray'], // the lane is still carried: a later gray c would get it
    ],
  );
  const after = (await (await fetch(bDiagnostics)).json()) as DiagnosticsReport;
  assert.deepEqual(after.counters.fallbacks, [{ service: 'svc-c', from: 'gray', to: null, calls: 1 }]);

  const { leftoverKeys } = await chain.stop();
  assert.equal(leftoverKeys, 0);
});
