import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { runArgoSteps } from '../examples/argo-steps/index';

test('examples/argo-steps walks 20 -> pause -> 40 -> 60 -> 80 -> 100 with the split observed at each step', async () => {
  const users = 500;
  const steps = await runArgoSteps({ pause: '1500ms', users });
  assert.deepEqual(
    steps.map((s) => s.weight),
    [20, 40, 60, 80, 100],
  );
  for (const s of steps) {
    // The requests a weight's version decided: at least one full round of users at the promoted
    // pause, and whatever rounds fit in each timed pause (fewer on a loaded machine). Users are
    // sticky, so a user sent again lands where it did: the sample is the users, not the requests.
    // Bound: four binomial standard deviations over the users, plus one point.
    const p = s.weight / 100;
    const bound = 400 * Math.sqrt((p * (1 - p)) / Math.min(users, s.requests)) + 1;
    assert.ok(s.requests >= 20, `${s.weight}%: only ${s.requests} requests`);
    assert.ok(
      Math.abs((s.canary / s.requests) * 100 - s.weight) <= bound,
      `${s.weight}%: ${s.canary}/${s.requests} (bound ±${bound.toFixed(1)})`,
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
