// discovery.pick() cost at 10 / 1,000 / 100,000 instances spread over 1 and 100 lanes, against a
// bare baseline measured in the same run, plus bytes allocated per pick. Not a test: run it by hand
// or through `npm run bench -- --suites pick`.
//
//   npx tsc -b packages/discovery && node --import tsx packages/discovery/bench/pick.bench.ts
//
// Layout of a case with L lanes: instance i serves bucket i % L; bucket 0 is the base lane, bucket
// k the lane `lane-k`. Each op asks for the next lane of the rotation [base, lane-1, ..., lane-(L-1)],
// so with 10 instances and 100 lanes, 90 of the 100 lanes have no instance and fall back to base.
//
// Bytes per pick: measured by bytesPerOp of scripts/bench-kit.ts (median of windows of WINDOW picks,
// V8's used heap after a minor GC and after the window). A control case that allocates one small
// object per op shows the method sees allocations.

import { withLane } from '@graylane/core';
import {
  type BalancerName,
  createDiscovery,
  type Discovery,
  type ServiceInstanceInit,
  staticRegistry,
} from '@graylane/discovery';
import { bytesPerOp, nsByName, printResults } from '../../../scripts/bench-kit';

const QUICK = process.env.BENCH_QUICK === '1';
const WINDOW = 10_000;
const WINDOWS = QUICK ? 10 : 60;
const TARGET_NS = 200;
const WINDOWS_OF = { window: WINDOW, windows: WINDOWS };
// mitata is loaded with import(): required from this CommonJS file through tsx's ESM interop, its
// generated measuring loop runs ~10x slower (73 ns vs 6 ns for an array read, same machine).

function instancesFor(count: number, lanes: number): ServiceInstanceInit[] {
  return Array.from({ length: count }, (_, i) => {
    const bucket = i % lanes;
    return {
      service: 'svc',
      id: `i${i}`,
      host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 8080,
      weight: 100,
      labels: bucket === 0 ? {} : ({ 'alicloud.service.tag': `lane-${bucket}` } as Record<string, string>),
    };
  });
}

function rotation(lanes: number): Array<string | null> {
  return Array.from({ length: lanes }, (_, k) => (k === 0 ? null : `lane-${k}`));
}

interface Case {
  readonly name: string;
  readonly instances: number;
  readonly lanes: number;
  readonly balancer: BalancerName;
  readonly op: () => unknown;
}

async function pickCase(
  instances: number,
  lanes: number,
  balancer: BalancerName = 'round-robin',
): Promise<Case> {
  const registry = staticRegistry({ instances: instancesFor(instances, lanes), env: false });
  const discovery: Discovery = createDiscovery({ registry, balancer });
  await discovery.ready('svc');
  const order = rotation(lanes);
  let k = 0;
  const op = function pickOp() {
    const lane = order[k]!;
    k = k + 1 === order.length ? 0 : k + 1;
    return discovery.pick('svc', lane);
  };
  for (let i = 0; i < order.length; i++) op(); // every lane's route exists before measuring
  const label = balancer === 'round-robin' ? '' : `, ${balancer}`;
  return {
    name: `pick: ${instances.toLocaleString('en')} instances, ${lanes} lane(s)${label}`,
    instances,
    lanes,
    balancer,
    op,
  };
}

async function main(): Promise<void> {
  const { bench, do_not_optimize, group, run, summary } = await import('mitata');
  const cases: Case[] = [];
  for (const lanes of [1, 100])
    for (const count of [10, 1_000, 100_000]) cases.push(await pickCase(count, lanes));
  cases.push(
    await pickCase(1_000, 1, 'random'),
    await pickCase(1_000, 1, 'p2c'),
    await pickCase(100_000, 100, 'p2c'),
  );
  // pick(service) with the lane read from the async context (currentLane()), as integrations call
  // it: everything below runs inside withLane('lane-7'); the other cases pass their lane explicitly.
  const registry = staticRegistry({ instances: instancesFor(1_000, 100), env: false });
  const discovery = createDiscovery({ registry });
  await discovery.ready('svc');
  if (discovery.pick('svc').labels['alicloud.service.tag'] !== 'lane-7')
    throw new Error('bench setup: not in lane-7');
  cases.push({
    name: 'pick(service) in lane-7 via currentLane(): 1,000 instances, 100 lane(s)',
    instances: 1_000,
    lanes: 100,
    balancer: 'round-robin',
    op: function currentLaneOp() {
      return discovery.pick('svc');
    },
  });

  // choose() + countPick(choice), as the gRPC picker selects and counts one call: 1,000 instances, 100 lanes.
  {
    const chooser = await pickCase(1_000, 100);
    const order = rotation(100);
    const chooseDiscovery = createDiscovery({
      registry: staticRegistry({ instances: instancesFor(1_000, 100), env: false }),
    });
    await chooseDiscovery.ready('svc');
    let c = 0;
    const op = function chooseAndCountOp() {
      const lane = order[c]!;
      c = c + 1 === order.length ? 0 : c + 1;
      const choice = chooseDiscovery.choose('svc', lane);
      chooseDiscovery.countPick(choice);
      return choice;
    };
    for (let i = 0; i < 1_000; i++) op(); // every route's choices exist before measuring
    cases.push({ ...chooser, name: 'choose + countPick: 1,000 instances, 100 lane(s)', op });
  }

  // What the HTTP integrations and the gRPC picker run per call on the healthy path, with every
  // issue-14 feature configured: outlier ejection on (with one instance ejected, so the buckets
  // were rebuilt around it), warm-up configured (no instance warming: the service's first set
  // never warms), choose + countPick, and the call's outcome reported ('success').
  {
    const failing = createDiscovery({
      registry: staticRegistry({ instances: instancesFor(1_000, 100), env: false }),
      outlier: { consecutiveFailures: 3, baseEjectionMs: 3_600_000 },
      warmup: { durationMs: 60_000 },
    });
    await failing.ready('svc');
    const ejected = failing.instances('svc').find((i) => i.id === 'i107')!; // lane-7
    for (let i = 0; i < 3; i++) failing.reportOutcome('svc', ejected, 'connect-failure');
    const lane7 = failing.snapshot().services.svc!.lanes.find((l) => l.lane === 'lane-7')!;
    if (lane7.ejected !== 1 || lane7.warming !== undefined)
      throw new Error('bench setup: expected 1 ejected, none warming');
    const order = rotation(100);
    let c = 0;
    const op = function healthyCallOp() {
      const lane = order[c]!;
      c = c + 1 === order.length ? 0 : c + 1;
      const choice = failing.choose('svc', lane);
      failing.countPick(choice);
      failing.reportOutcome('svc', choice.instance, 'success');
      return choice;
    };
    for (let i = 0; i < 1_000; i++) op();
    cases.push({
      name: 'healthy call (choose + countPick + reportOutcome), ejection on + 1 ejected, warm-up configured: 1,000 instances, 100 lane(s)',
      instances: 1_000,
      lanes: 100,
      balancer: 'round-robin',
      op,
    });
    let r = 0;
    const retryOp = function retryOp() {
      const lane = order[r]!;
      r = r + 1 === order.length ? 0 : r + 1;
      const again = failing.chooseAgain(failing.choose('svc', lane));
      failing.countPick(again);
      return again;
    };
    for (let i = 0; i < 1_000; i++) retryOp();
    cases.push({
      name: 'retry (choose + chooseAgain + countPick), same setup: 1,000 instances, 100 lane(s)',
      instances: 1_000,
      lanes: 100,
      balancer: 'round-robin',
      op: retryOp,
    });
  }

  const baselineArray = Array.from({ length: 1_000 }, (_, i) => ({ id: i }));
  let j = 0;
  const baseline = function baselineOp() {
    j = j + 1 === baselineArray.length ? 0 : j + 1;
    return baselineArray[j];
  };
  const control = function allocatingOp() {
    j = j + 1 === baselineArray.length ? 0 : j + 1;
    return { id: j };
  };

  group('discovery.pick', () => {
    summary(() => {
      bench('baseline: read the next element of an array', () => do_not_optimize(baseline())).baseline(true);
      for (const c of cases) bench(c.name, () => do_not_optimize(c.op()));
    });
  });
  const { benchmarks } = await run({ format: QUICK ? 'quiet' : 'mitata', throw: true });
  const ns = nsByName(benchmarks);
  const row = (name: string, op: () => unknown) => {
    const { p50, avg } = ns.get(name)!;
    return { nsPerOp: p50, nsAvg: avg, bytesPerPick: bytesPerOp(op, WINDOWS_OF) };
  };
  const rows: Record<string, { nsPerOp: number; nsAvg: number; bytesPerPick: number }> = {};
  rows.baseline = row('baseline: read the next element of an array', baseline);
  for (const c of cases) rows[c.name] = row(c.name, c.op);
  const controlBytes = bytesPerOp(control, WINDOWS_OF);

  const worstNs = Math.max(...cases.map((c) => rows[c.name]!.nsPerOp));
  const worstBytes = Math.max(...cases.map((c) => rows[c.name]!.bytesPerPick));
  const flat = (lanes: number) =>
    rows[
      cases.find((c) => c.lanes === lanes && c.instances === 100_000 && c.balancer === 'round-robin')!.name
    ]!.nsPerOp /
    rows[cases.find((c) => c.lanes === lanes && c.instances === 10 && c.balancer === 'round-robin')!.name]!
      .nsPerOp;
  const targets = [
    {
      name: `discovery pick: worst ns/op (p50) over all cases <= ${TARGET_NS}`,
      op: '<=',
      limit: TARGET_NS,
      value: worstNs,
      met: worstNs <= TARGET_NS,
    },
    {
      name: 'discovery pick: bytes allocated per pick (worst case, median window) <= 0.5',
      op: '<=',
      limit: 0.5,
      value: worstBytes,
      met: worstBytes <= 0.5,
    },
    {
      name: 'discovery pick: ns/op at 100,000 / at 10 instances, 1 lane <= 2',
      op: '<=',
      limit: 2,
      value: flat(1),
      met: flat(1) <= 2,
    },
    {
      name: 'discovery pick: ns/op at 100,000 / at 10 instances, 100 lanes <= 2',
      op: '<=',
      limit: 2,
      value: flat(100),
      met: flat(100) <= 2,
    },
  ];

  printResults({
    suite: 'pick',
    quick: QUICK,
    ...WINDOWS_OF,
    bytesKey: 'bytesPerPick',
    bytesUnit: 'pick',
    rows,
    controlBytes,
    targets,
  });
}

withLane('lane-7', main).catch((error) => {
  console.error(error);
  process.exit(1);
});
