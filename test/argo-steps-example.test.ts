import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { runArgoSteps } from '../examples/argo-steps/index';

test('examples/argo-steps walks 20 -> pause -> 40 -> 60 -> 80 -> 100 with the split observed at each step', async () => {
  const steps = await runArgoSteps({ pause: '1s', users: 500 });
  assert.deepEqual(
    steps.map((s) => s.weight),
    [20, 40, 60, 80, 100],
  );
  for (const s of steps) {
    assert.ok(
      Math.abs((s.canary / s.requests) * 100 - s.weight) <= 3,
      `${s.weight}%: ${s.canary}/${s.requests}`,
    );
    assert.equal(s.movedOut, 0, 'users only move into the canary');
  }
  assert.equal(steps.at(-1)!.phase, 'Completed');
});

test('examples/argo-steps runs as a program and prints each step', () => {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'examples/argo-steps/index.ts', '--pause', '100ms'],
    {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /paused until promoted/);
  assert.match(run.stdout, /setWeight 100 {2}echo-canary +(\d+)\/\1 /);
});
