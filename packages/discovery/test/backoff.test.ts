// The retry backoff shared by the etcd and Kubernetes registries.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { RETRY_JITTER, RETRY_MULTIPLIER } from '@graylane/discovery/etcd';
import { Backoff } from '../src/internal/backoff';

test('delays grow by RETRY_MULTIPLIER within +/- RETRY_JITTER, never above maxMs, and reset', () => {
  for (let round = 0; round < 50; round++) {
    const backoff = new Backoff(100, 1_000);
    let base = 100;
    for (let i = 0; i < 8; i++) {
      const delay = backoff.next();
      assert.ok(delay >= Math.floor(base * (1 - RETRY_JITTER)), `delay ${delay} below ${base} - jitter`);
      assert.ok(delay <= Math.min(1_000, Math.ceil(base * (1 + RETRY_JITTER))), `delay ${delay} above bound`);
      base = Math.min(1_000, base * RETRY_MULTIPLIER);
    }
    backoff.reset();
    assert.ok(backoff.next() <= Math.ceil(100 * (1 + RETRY_JITTER)));
  }
});

test('schedule keeps one unref()d run: a later schedule replaces it, cancel drops it', async () => {
  const backoff = new Backoff(1, 10);
  const ran: string[] = [];
  backoff.schedule(() => ran.push('replaced'), 0);
  const done = new Promise<void>((resolve) => {
    backoff.schedule(() => {
      ran.push('last');
      resolve();
    });
  });
  await done;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ran, ['last']);

  backoff.schedule(() => ran.push('canceled'), 0);
  backoff.cancel();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ran, ['last']);
});

test('a pending run does not keep the process alive', () => {
  const script = [
    "const { Backoff } = require('./dist/internal/backoff.js');",
    'new Backoff(60_000, 60_000).schedule(() => process.exit(3));',
  ].join('\n');
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: join(__dirname, '..'),
    timeout: 20_000,
  });
  assert.equal(result.status, 0);
});
