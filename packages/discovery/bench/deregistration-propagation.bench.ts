// How long a deregistration takes to reach another process's discovery (so that it stops picking
// the instance): the floor for register()'s default drain. Not a test: run by hand.
//
//   npx tsc -b && node --import tsx packages/discovery/bench/deregistration-propagation.bench.ts
//
// static file: the instance is removed from the watched file (atomic rename), a second
// staticRegistry watching the file (defaults: fs.watch + 50 ms debounce, 2 s stat poll) sees it.
// etcd: registration.close() (lease revoke) on one client; a second client's watch sees it.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiscovery, type Discovery, staticRegistry } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { startEtcd } from '../../../examples/full-chain/etcd-server';

const ROUNDS = Number(process.env.ROUNDS ?? 20);

function gone(discovery: Discovery, id: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const unwatch = discovery.watch('svc', (instances) => {
      if (instances.some((i) => i.id === id)) return;
      unwatch();
      resolve(performance.now() - started);
    });
  });
}

function present(discovery: Discovery, id: string): Promise<void> {
  return new Promise((resolve) => {
    const unwatch = discovery.watch('svc', (instances) => {
      if (!instances.some((i) => i.id === id)) return;
      unwatch();
      resolve();
    });
  });
}

function summary(name: string, ms: number[]): void {
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1);
  console.log(`${name}: n=${ms.length} p50=${q(0.5)} ms p90=${q(0.9)} ms max=${q(1)} ms`);
}

async function staticFile(): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gl-propagation-'));
  const file = join(dir, 'instances.json');
  const write = (ids: string[]) => {
    const tmp = `${file}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify({ svc: ids.map((id, i) => ({ id, host: '10.0.0.1', port: 8000 + i })) }),
    );
    renameSync(tmp, file);
  };
  write(['a', 'b']);
  const registry = staticRegistry({ file, env: false });
  const discovery = createDiscovery({ registry });
  await discovery.ready('svc');
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const seen = gone(discovery, 'b');
    write(['a']);
    times.push(await seen);
    const back = present(discovery, 'b');
    write(['a', 'b']);
    await back;
  }
  await discovery.close();
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
  return times;
}

async function etcd(): Promise<number[]> {
  const server = await startEtcd();
  const writer = etcdRegistry({ endpoints: [server.endpoint] });
  const reader = etcdRegistry({ endpoints: [server.endpoint] });
  const discovery = createDiscovery({ registry: reader });
  await discovery.ready('svc');
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const back = present(discovery, 'b');
    const registration = await writer.register({ service: 'svc', id: 'b', host: '10.0.0.2', port: 8080 });
    await back;
    const seen = gone(discovery, 'b');
    const started = performance.now();
    await registration.close();
    const closed = performance.now() - started;
    const total = await seen;
    times.push(Math.max(total, closed));
  }
  await discovery.close();
  await writer.close();
  await reader.close();
  await server.close();
  return times;
}

async function main(): Promise<void> {
  setInterval(() => {}, 1_000); // the registries' timers are unref'd: keep the process alive
  console.log(`node ${process.version}`);
  summary('static file: deregistration -> other process picks without it', await staticFile());
  summary('etcd: registration.close() -> other client picks without it', await etcd());
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
