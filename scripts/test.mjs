#!/usr/bin/env node
// The README's test command (`npm test`): build, type-check tests, lint, then run every test file
// with the Node test runner. `npm test -- <substring>...` runs only the matching test files.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureEtcd } from './ensure-etcd.mjs';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function findTests(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

ensureEtcd();
const bin = join(root, 'node_modules', '.bin');
run(join(bin, 'tsc'), ['-b']);
run(join(bin, 'tsc'), ['-p', 'tsconfig.test.json']);
run(join(bin, 'biome'), ['check', '.']);

let files = [...findTests(join(root, 'packages')), ...findTests(join(root, 'test'))].sort();
if (filters.length > 0) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
console.log(`node ${process.version}: ${files.length} test files`);
// The packed-install test packs every package and installs the tarballs with npm (minutes of CPU):
// run beside the others it starves the ones that watch time (stop cycles under load, crash
// handoffs, quick starts waiting for a registry), so it runs alone, after them.
const ALONE = 'test/packed-install.test.ts';
const together = files.filter((f) => f !== ALONE);
const testArgs = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000'];
if (together.length > 0) run(process.execPath, [...testArgs, ...together]);
// Its own bound: one file of many npm installs (117 s measured at load average 6 on 2 cores).
if (files.includes(ALONE)) run(process.execPath, [...testArgs.slice(0, -1), '--test-timeout=600000', ALONE]);
