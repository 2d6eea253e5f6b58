import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  compileRules,
  fileRuleSource,
  InvalidRuleError,
  type LiveRules,
  liveChannels,
  liveRules,
  type RuleSet,
  type RulesRejectMessage,
  type RulesReloadMessage,
} from '@graylane/rules';

const USERS = Array.from({ length: 4000 }, (_, i) => `user-${i}`);

function grayUsers(set: RuleSet): Set<string> {
  const inLane = new Set<string>();
  for (const user of USERS) {
    if (set.rules.decide({ headers: { 'x-user': user } }).lane === 'gray') inLane.add(user);
  }
  return inLane;
}

function weighted(weight: number) {
  return [{ lane: 'gray', weight, sticky: { header: 'x-user' } }];
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('update() swaps whole versions; a bad set is rejected, counted, logged and published, the last good stays', (t) => {
  const errors: Error[] = [];
  const live = liveRules({ rules: weighted(0), onError: (error) => errors.push(error) });
  assert.equal(live.current.version, 1);
  const reloads: RulesReloadMessage[] = [];
  const rejects: RulesRejectMessage[] = [];
  const onReload = (m: unknown) => reloads.push(m as RulesReloadMessage);
  const onReject = (m: unknown) => rejects.push(m as RulesRejectMessage);
  diagnosticsChannel.subscribe(liveChannels.reload.name, onReload);
  diagnosticsChannel.subscribe(liveChannels.reject.name, onReject);
  t.after(() => {
    diagnosticsChannel.unsubscribe(liveChannels.reload.name, onReload);
    diagnosticsChannel.unsubscribe(liveChannels.reject.name, onReject);
  });

  const first = live.current;
  const second = live.update({ rules: weighted(50) });
  assert.equal(second.version, 2);
  assert.equal(live.current, second);
  assert.equal(
    first.rules.decide({ headers: { 'x-user': 'u' } }).lane,
    undefined,
    'an old version stays whole',
  );
  assert.deepEqual(
    reloads.map((m) => m.version),
    [2],
  );

  assert.throws(() => live.update([{ lane: 'not a lane!' }]), InvalidRuleError);
  assert.throws(() => live.update({ nope: true }), InvalidRuleError);
  assert.equal(live.current, second, 'the last good set stays');
  const status = live.status();
  assert.equal(status.rejected, 2);
  assert.equal(status.version, 2);
  assert.equal(status.lastError?.code, 'GL_ERR_INVALID_RULE');
  assert.equal(errors.length, 2);
  assert.deepEqual(
    rejects.map((m) => [m.kind, m.version]),
    [
      ['invalid', 2],
      ['invalid', 2],
    ],
  );
});

test('sticky buckets do not depend on the version: raising 10 -> 30 -> 100 only moves users in', () => {
  const live = liveRules({ rules: weighted(10) });
  const at10 = grayUsers(live.current);
  const at30 = grayUsers(live.update(weighted(30)));
  const at100 = grayUsers(live.update(weighted(100)));
  for (const user of at10) assert.ok(at30.has(user), `${user} left the lane when the weight rose`);
  for (const user of at30) assert.ok(at100.has(user));
  assert.ok(Math.abs(at10.size / USERS.length - 0.1) < 0.02, `10%: ${at10.size}`);
  assert.ok(Math.abs(at30.size / USERS.length - 0.3) < 0.02, `30%: ${at30.size}`);
  // And a fresh compile of the same rules (another process, another version) agrees user by user.
  const elsewhere = compileRules(weighted(30));
  for (const user of USERS) {
    assert.equal(elsewhere.decide({ headers: { 'x-user': user } }).lane === 'gray', at30.has(user));
  }
});

test('fileRuleSource: JSON and YAML reloaded on change, malformed and invalid files rejected, last good kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-live-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.yaml');
  const write = (text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  write(JSON.stringify(weighted(10)));
  const errors: Array<[string, string]> = [];
  const live: LiveRules = liveRules({
    source: fileRuleSource({ path: file, debounceMs: 10, pollIntervalMs: 100 }),
    onError: (error, info) => errors.push([info.kind, (error as { code?: string }).code ?? '']),
  });
  t.after(() => live.close());
  const first = await live.ready();
  assert.equal(first.version, 2);
  assert.equal(first.source, `file:${file}`);
  assert.equal(live.current.rules.rules[0]?.weight, 10);

  write('rules:\n  - lane: gray\n    weight: 30\n    sticky: { header: x-user }\n');
  await until('the YAML reload', () => live.current.rules.rules[0]?.weight === 30);
  assert.equal(live.current.version, 3);

  write('rules: [ {lane: gray, weight: 200} ]\n');
  await until('the rejection', () => live.status().rejected === 1);
  assert.equal(live.current.version, 3, 'the last good set stays');
  write('{ not json');
  await until('the parse failure', () => live.status().rejected === 2);
  assert.deepEqual(errors, [
    ['invalid', 'GL_ERR_INVALID_RULE'],
    ['invalid', 'GL_ERR_RULE_SOURCE'],
  ]);
  assert.equal(live.current.rules.rules[0]?.weight, 30);

  rmSync(file);
  await until('the missing file', () => live.status().sourceErrors === 1);
  write(JSON.stringify(weighted(100)));
  await until('recovery', () => live.current.rules.rules[0]?.weight === 100);
  assert.equal(live.status().lastError?.code, 'GL_ERR_RULE_SOURCE');
});

// (@kubernetes/client-node is ESM-only and loaded with import() on first use; require.cache cannot see it.)
test('etcd3 loads only when an etcd source or store is made', () => {
  const script = `
    const loaded = (name) => Object.keys(require.cache).some((k) => k.includes('/node_modules/' + name + '/'));
    require('@graylane/rules');
    if (loaded('etcd3')) throw new Error('the main entry loaded etcd3');
    const { etcdRuleSource } = require('@graylane/rules/etcd');
    require('@graylane/rules/kubernetes');
    if (loaded('etcd3')) throw new Error('importing the subpath loaded etcd3 before use');
    etcdRuleSource({ endpoints: 'http://127.0.0.1:1', key: '/k' }).close();
    if (!loaded('etcd3')) throw new Error('etcd3 not loaded on use');
  `;
  const run = spawnSync(process.execPath, ['-e', script], {
    cwd: join(__dirname, '..', '..', '..'),
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
});
