// The Kubernetes registry at 10,000 Pods across 100 services. Not a test: run it by hand or through
// `npm run bench -- --suites kubernetes-scale`.
//
//   npx tsc -b packages/discovery && node --import tsx packages/discovery/bench/kubernetes-scale.bench.ts [--quick]
//
// 1. Memory per instance: V8 used heap after a full GC, before and after 10,000 Pods were applied
//    to 100 PodSets (the registry's per-service state) and each set's instance array was built;
//    the Pod objects themselves are dropped, as the registry drops watch events. Two label layouts:
//    Pods of a ReplicaSet share their labels (Deployments: the usual case), or every Pod has its own
//    label set (StatefulSets' pod-name label: the worst case for label sharing).
// 2. Event-apply cost: a MODIFIED event (readiness flip) applied through PodSet.apply + instances(),
//    the step the watch runs per delivered change, at 10,000 Pods / 100 services and at 100 Pods /
//    1 service (the same work per event; what differs is how much state is warm in the CPU caches).
//    Baseline: a naive registry that keeps one list of all 10,000 and rebuilds it per event. Also: JSON.parse of the
//    watch line (what client-node does before the registry sees the event), and a no-op MODIFIED.
// 3. End to end through the fake API server (same process, real HTTP on loopback): time until all
//    100 services delivered their first set, and MODIFIED events/s from the server's write to the
//    registry's delivery, plus the heap held by the registry + client-node after sync.
//
// Timings are medians over rounds; each round runs the whole batch once.
// Prints a summary on stdout and a last `BENCH_JSON {...}` line for bench/run.mjs.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Instance } from '@graylane/discovery';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import { FakeKubeApiServer, loadKubeClient } from '../../../test/helpers/fake-kube-apiserver';
import { PodSet } from '../src/kubernetes/pod-set';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const SERVICES = 100;
const PODS_PER_SERVICE = 100;
const PODS = SERVICES * PODS_PER_SERVICE;
const ROUNDS = QUICK ? 3 : 9;
const EVENTS_PER_ROUND = QUICK ? 20_000 : 100_000;
const E2E_EVENTS = QUICK ? 1_000 : 5_000;
// One event touches one service's set: at 10,000 Pods it must cost at most this share of
// rebuilding one list of every instance (what a registry without per-service sets would do).
const TARGET_VS_NAIVE = 0.05;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const say = (...parts: unknown[]) => console.error('[kubernetes-scale]', ...parts);

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A Pod as a watch event carries it (the usual metadata, spec and status, trimmed of volumes). */
function podJson(service: number, index: number, uniqueLabels: boolean, ready = true) {
  const gray = index % 10 === 0;
  const name = `svc-${service}-${gray ? 'gray' : 'stable'}-7c9d8f6b5-${index.toString(36).padStart(5, 'x')}`;
  const labels: Record<string, string> = {
    app: `svc-${service}`,
    'pod-template-hash': gray ? '5f6b7d8c9' : '7c9d8f6b5',
    ...(gray ? { 'alicloud.service.tag': 'gray', 'opensergo.io/canary-gray': 'gray' } : {}),
    ...(uniqueLabels ? { 'statefulset.kubernetes.io/pod-name': name } : {}),
  };
  const ip = `10.${service >> 8}.${service & 255}.${index}`;
  return {
    metadata: {
      name,
      generateName: `svc-${service}-stable-7c9d8f6b5-`,
      namespace: 'default',
      uid: `0b1c2d3e-${service}-${index}-4f5a-8b9c0d1e2f3a`,
      resourceVersion: String(100_000 + service * PODS_PER_SERVICE + index),
      creationTimestamp: '2024-06-01T10:00:00Z',
      labels,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `svc-${service}-stable-7c9d8f6b5`,
          uid: 'x',
          controller: true,
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: `registry.example.com/svc-${service}:1.0.0`,
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
        },
      ],
      nodeName: `node-${index % 20}`,
      serviceAccountName: 'graylane-discovery',
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: `192.168.0.${index % 20}`,
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: ready ? 'True' : 'False' },
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
        { type: 'PodScheduled', status: 'True' },
      ],
      startTime: '2024-06-01T10:00:01Z',
    },
  };
}

function memoryPerInstance(uniqueLabels: boolean) {
  const before = heapAfterGc();
  const sets: PodSet[] = [];
  const snapshots: (readonly Instance[])[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const set = new PodSet('http');
    // Parsed from JSON like a watch line, so nothing is shared with the generator's literals.
    for (let i = 0; i < PODS_PER_SERVICE; i++)
      set.apply('ADDED', JSON.parse(JSON.stringify(podJson(s, i, uniqueLabels))));
    sets.push(set);
    snapshots.push(set.instances());
  }
  const after = heapAfterGc();
  const count = snapshots.reduce((n, list) => n + list.length, 0);
  if (count !== PODS) throw new Error(`expected ${PODS} instances, got ${count}`);
  return {
    bytesPerInstance: (after - before) / PODS,
    totalMiB: (after - before) / 2 ** 20,
    keep: sets.length,
  };
}

interface Variant {
  readonly name: string;
  readonly events: number;
  readonly apply: (k: number) => void;
  k: number;
}

/**
 * ns per event of each variant: ROUNDS rounds, each running every variant once (rotating order),
 * so per-round ratios compare windows of the same machine state. `k` keeps counting across the
 * warm-up and the rounds, so a cycle of flips keeps changing state.
 */
function timeVariants(variants: Variant[]): Map<string, number[]> {
  const samples = new Map(variants.map((v) => [v.name, [] as number[]]));
  for (const v of variants) for (let i = 0; i < Math.min(v.events, 5_000); i++) v.apply(v.k++); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(round + j) % variants.length]!;
      const start = process.hrtime.bigint();
      for (let i = 0; i < v.events; i++) v.apply(v.k++);
      samples.get(v.name)!.push(Number(process.hrtime.bigint() - start) / v.events);
    }
  }
  return samples;
}

function eventApply() {
  // Pre-built events: readiness flips, round-robin over services, each Pod flipping back and forth.
  const build = (services: number) => {
    const sets = Array.from({ length: services }, (_, s) => {
      const set = new PodSet('http');
      for (let i = 0; i < PODS_PER_SERVICE; i++) set.apply('ADDED', podJson(s, i, false));
      set.instances();
      return set;
    });
    const flips = Array.from({ length: 2 * services * PODS_PER_SERVICE }, (_, k) => {
      const s = k % services;
      const i = Math.floor(k / services) % PODS_PER_SERVICE;
      const ready = Math.floor(k / (services * PODS_PER_SERVICE)) % 2 === 1;
      return { s, pod: podJson(s, i, false, ready) };
    });
    return { sets, flips };
  };
  const fleet = build(SERVICES);
  const single = build(1);
  const parseOnly = build(1);
  const lines = parseOnly.flips.map(({ pod }) => JSON.stringify({ type: 'MODIFIED', object: pod }));
  // Baseline: one flat list of every instance, rebuilt (sorted) on every event.
  const flatSets = build(SERVICES);
  const flat = new Map<string, Instance>();
  for (const set of flatSets.sets) for (const instance of set.instances()) flat.set(instance.id, instance);
  const variants: Variant[] = [
    {
      name: 'perService',
      events: EVENTS_PER_ROUND,
      k: 0,
      apply: (k) => {
        const { s, pod } = fleet.flips[k % fleet.flips.length]!;
        const set = fleet.sets[s]!;
        set.apply('MODIFIED', pod);
        set.instances();
      },
    },
    {
      name: 'oneService',
      events: EVENTS_PER_ROUND,
      k: 0,
      apply: (k) => {
        const { pod } = single.flips[k % single.flips.length]!;
        const set = single.sets[0]!;
        set.apply('MODIFIED', pod);
        set.instances();
      },
    },
    {
      name: 'parse',
      events: EVENTS_PER_ROUND,
      k: 0,
      apply: (k) => {
        JSON.parse(lines[k % lines.length]!);
      },
    },
    {
      name: 'naive',
      events: Math.max(100, Math.floor(EVENTS_PER_ROUND / 500)),
      k: 0,
      apply: (k) => {
        const { pod } = flatSets.flips[k % flatSets.flips.length]!;
        const prev = flat.get(pod.metadata.name)!;
        flat.set(
          pod.metadata.name,
          Object.freeze({ ...prev, healthy: pod.status.conditions[1]!.status === 'True' }),
        );
        [...flat.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      },
    },
  ];
  const samples = timeVariants(variants);
  const perService = samples.get('perService')!;
  const oneService = samples.get('oneService')!;
  // Then apply alone, and a no-op MODIFIED (the same state again: only the comparison runs).
  const steady = fleet.flips.slice(0, SERVICES * PODS_PER_SERVICE);
  for (const { s, pod } of steady) fleet.sets[s]!.apply('MODIFIED', pod);
  const more = timeVariants([
    {
      name: 'noop',
      events: EVENTS_PER_ROUND,
      k: 0,
      apply: (k) => {
        const { s, pod } = steady[k % steady.length]!;
        fleet.sets[s]!.apply('MODIFIED', pod);
      },
    },
    {
      name: 'applyOnly',
      events: EVENTS_PER_ROUND,
      k: 0,
      apply: (k) => {
        const { s, pod } = fleet.flips[(k + steady.length) % fleet.flips.length]!;
        fleet.sets[s]!.apply('MODIFIED', pod);
      },
    },
  ]);
  return {
    perService: median(perService),
    oneService: median(oneService),
    ratio: median(perService.map((ns, r) => ns / oneService[r]!)),
    vsNaive: median(perService.map((ns, r) => ns / samples.get('naive')![r]!)),
    applyOnly: median(more.get('applyOnly')!),
    noop: median(more.get('noop')!),
    parse: median(samples.get('parse')!),
    naive: median(samples.get('naive')!),
  };
}

async function endToEnd() {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start();
  const services: Record<string, { port: string }> = {};
  for (let s = 0; s < SERVICES; s++) {
    services[`svc-${s}`] = { port: 'http' };
    fake.putService(`svc-${s}`, { app: `svc-${s}` });
    for (let i = 0; i < PODS_PER_SERVICE; i++) {
      const pod = podJson(s, i, false);
      fake.addPod({
        name: pod.metadata.name,
        labels: pod.metadata.labels,
        ip: pod.status.podIP,
        ports: pod.spec.containers[0]!.ports,
      });
    }
  }
  const heapBefore = heapAfterGc();
  const registry = kubernetesRegistry({ kubeConfig: fake.kubeConfig(k8s.KubeConfig), services });
  const latest = new Map<string, readonly Instance[]>();
  let deliveries = 0;
  let waiter: { done: () => boolean; resolve: () => void } | undefined;
  const until = (done: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => reject(new Error('end-to-end run timed out')), timeoutMs);
      waiter = {
        done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  const started = performance.now();
  const unsubscribes = Object.keys(services).map((name) =>
    registry.subscribe(name, (update) => {
      if (!update.ok) return;
      deliveries++;
      latest.set(name, update.instances);
      if (waiter?.done()) waiter.resolve();
    }),
  );
  const synced = () =>
    latest.size === SERVICES && [...latest.values()].every((l) => l.length === PODS_PER_SERVICE);
  await until(synced, 60_000);
  const syncMs = performance.now() - started;
  await fake.waitForWatches(SERVICES, 30_000);
  const heapSynced = heapAfterGc();

  // E2E_EVENTS readiness flips spread over every service, written as fast as the server can.
  const unhealthy = () => {
    let n = 0;
    for (const list of latest.values()) for (const i of list) if (!i.healthy) n++;
    return n;
  };
  const flipped: Array<[string, string]> = [];
  const t0 = performance.now();
  const deliveriesBefore = deliveries;
  for (let k = 0; k < E2E_EVENTS; k++) {
    const s = k % SERVICES;
    const i = Math.floor(k / SERVICES) % PODS_PER_SERVICE;
    const name = podJson(s, i, false).metadata.name;
    fake.setReady(name, false);
    flipped.push([`svc-${s}`, name]);
    if (k % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const expected = new Set(flipped.map(([, name]) => name)).size;
  await until(() => unhealthy() === expected, 60_000);
  const e2eMs = performance.now() - t0;
  const result = {
    syncMs,
    heapAfterSyncMiB: (heapSynced - heapBefore) / 2 ** 20,
    events: E2E_EVENTS,
    eventsPerSecond: (E2E_EVENTS / e2eMs) * 1000,
    deliveries: deliveries - deliveriesBefore,
    lists: fake.requestsOf('list').length,
  };
  for (const off of unsubscribes) off();
  await registry.close();
  await fake.close();
  return result;
}

async function main() {
  say(`node ${process.version}, ${PODS} pods / ${SERVICES} services${QUICK ? ' (quick)' : ''}`);
  const shared = memoryPerInstance(false);
  const unique = memoryPerInstance(true);
  say('memory done');
  const apply = eventApply();
  say('event apply done');
  const e2e = await endToEnd();
  say('end to end done');

  const ratio = apply.ratio;
  const targets = [
    {
      name: `MODIFIED apply + rebuild at ${PODS} pods / ${SERVICES} services <= ${TARGET_VS_NAIVE}x rebuilding one list of all ${PODS}`,
      variant: `${SERVICES} services`,
      baseline: 'one flat list',
      metric: 'nsPerEvent',
      op: '<=',
      limit: TARGET_VS_NAIVE,
      value: apply.vsNaive,
      met: apply.vsNaive <= TARGET_VS_NAIVE,
    },
  ];
  console.log(
    `memory per instance, shared label sets:   ${shared.bytesPerInstance.toFixed(0)} B (${shared.totalMiB.toFixed(2)} MiB for ${PODS})`,
  );
  console.log(
    `memory per instance, unique label sets:   ${unique.bytesPerInstance.toFixed(0)} B (${unique.totalMiB.toFixed(2)} MiB for ${PODS})`,
  );
  console.log(`MODIFIED apply + rebuild, ${SERVICES} services: ${apply.perService.toFixed(0)} ns/event`);
  console.log(
    `MODIFIED apply + rebuild, 1 service:     ${apply.oneService.toFixed(0)} ns/event (median per-round ratio ${ratio.toFixed(2)})`,
  );
  console.log(`MODIFIED apply only:                     ${apply.applyOnly.toFixed(0)} ns/event`);
  console.log(`no-op MODIFIED (nothing read changed):   ${apply.noop.toFixed(0)} ns/event`);
  console.log(`JSON.parse of the watch line:            ${apply.parse.toFixed(0)} ns/event`);
  console.log(
    `baseline: rebuild one list of ${PODS}:    ${apply.naive.toFixed(0)} ns/event (per-service: ${apply.vsNaive.toFixed(4)}x of it)`,
  );
  console.log(
    `end to end: first sync of ${SERVICES} services ${e2e.syncMs.toFixed(0)} ms; ${e2e.events} MODIFIED at ${e2e.eventsPerSecond.toFixed(0)} events/s (${e2e.deliveries} deliveries); registry + client heap after sync ${e2e.heapAfterSyncMiB.toFixed(1)} MiB`,
  );
  console.log(
    `BENCH_JSON ${JSON.stringify({
      suite: 'kubernetes-scale',
      node: process.version,
      config: {
        services: SERVICES,
        podsPerService: PODS_PER_SERVICE,
        rounds: ROUNDS,
        eventsPerRound: EVENTS_PER_ROUND,
        e2eEvents: E2E_EVENTS,
        quick: QUICK,
      },
      memory: { sharedLabels: shared, uniqueLabels: unique },
      eventApplyNs: apply,
      endToEnd: e2e,
      targets,
    })}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
