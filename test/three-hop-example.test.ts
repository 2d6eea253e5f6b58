import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');

test('examples/three-hop runs and every hop sees the expected lane', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/three-hop/main.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /gray/);
});
