#!/usr/bin/env node
// The README's demo command (`npm start`): build the packages (incremental, so a no-op when they
// are up to date), then run the full-chain demo (examples/full-chain): edge -> svc-a (HTTP) ->
// svc-b (gRPC) -> svc-c (HTTP), each instance its own process on a loopback port chosen at run
// time. It sends tagged, untagged, rule-matched, weighted and invalid-tag requests, prints which
// instance served each hop, checks every walk, and shuts everything down. Exits non-zero when a
// walk or a counter is wrong.
//
//   npm start                          static registry (a shared instances file; no server)
//   npm start -- --registry etcd       etcd (a fresh local etcd, or $ETCD_ENDPOINTS)
//   npm start -- --keep                keep the chain up to browse the diagnostics pages
//   npm start -- --no-build            skip `tsc -b` (the tests use this after their own build)
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (!args.includes('--no-build')) {
  const built = run(join(root, 'node_modules', '.bin', 'tsc'), ['-b']);
  if (built !== 0) {
    console.error('build failed (tsc -b)');
    process.exit(built);
  }
}
const demoArgs = args.filter((a) => a !== '--no-build');
// Not spawnSync: this process must stay responsive to signals. Ctrl-C reaches the whole process
// group, but SIGTERM to `npm` reaches only npm and then us: pass it on, and exit once the demo
// has stopped the chain (every instance, etcd, the temp files).
const demo = spawn(
  process.execPath,
  ['--import', 'tsx', join('examples', 'full-chain', 'demo.ts'), ...demoArgs],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
function stop(signal) {
  if (demo.exitCode === null && demo.signalCode === null) demo.kill(signal);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(signal));
// `kill <npm>`: npm passes SIGTERM to the `sh -c` running this script, which exits without passing
// it on. We notice by being re-parented, and stop as if we had received it.
const parent = process.ppid;
const orphaned = setInterval(() => {
  if (process.ppid !== parent) {
    clearInterval(orphaned);
    stop('SIGTERM');
  }
}, 250);
orphaned.unref();
demo.once('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 15)));
