// Issue 19, "Done when" 1: under a steady 200 req/s through a real edge, the rule file / etcd key
// changes five times (weights 0 -> 10 -> 30 -> 100 -> 0): zero failed requests, every request
// decided by exactly one version (each response carries it, and its lane is what that version
// decides for its user), the new weight holds within ±3 points over 2,000 distinct users after
// each change, and sticky users only move into the lane as the weight rises.
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  type CompiledRules,
  compileRules,
  fileRuleSource,
  liveChannels,
  type RuleSource,
  type RulesReloadMessage,
} from '@graylane/rules';
import { etcdRuleSource } from '@graylane/rules/etcd';
import { Etcd3 } from 'etcd3';
import { startEtcd } from './helpers/etcd';
import { measure, type Sample, startEdge, steadyLoad, until } from './helpers/live-edge';

const WEIGHTS = [0, 10, 30, 100, 0] as const;
const RATE = 200;
const SPLIT_USERS = 2000;

function document(weight: number): string {
  return JSON.stringify({ rules: [{ lane: 'gray', weight, sticky: { header: 'x-user' } }] });
}

async function walk(
  t: TestContext,
  source: RuleSource,
  write: (text: string) => Promise<void>,
): Promise<void> {
  // version -> the rules it compiled, from the reload messages (so every sample can be checked).
  const versions = new Map<number, CompiledRules>();
  const reloads: RulesReloadMessage[] = [];
  const reloadedAt: Record<number, number> = {};
  const latencies: number[] = [];
  const onReload = (m: unknown) => {
    reloads.push(m as RulesReloadMessage);
    reloadedAt[(m as RulesReloadMessage).version] = Date.now();
  };
  diagnosticsChannel.subscribe(liveChannels.reload.name, onReload);
  t.after(() => diagnosticsChannel.unsubscribe(liveChannels.reload.name, onReload));

  const edge = await startEdge(t, { rules: source });
  versions.set(1, compileRules([]));
  const load = steadyLoad(edge, RATE);
  const splits: Array<Set<string>> = [];
  try {
    for (const weight of WEIGHTS) {
      const before = reloads.length;
      const writtenAt = Date.now();
      await write(document(weight));
      await until(`the reload to weight ${weight}`, () => reloads.length > before);
      assert.equal(reloads.length, before + 1, 'one write, one reload');
      const version = reloads.at(-1)!.version;
      latencies.push(reloadedAt[version]! - writtenAt);
      versions.set(version, compileRules(JSON.parse(document(weight)).rules));
      assert.equal(edge.edge.rules.current.version, version);
      const samples = await measure(edge, 'user', SPLIT_USERS);
      assert.ok(
        samples.every((s) => s.status === 200 && s.version === version),
        'measured on the new version',
      );
      const gray = new Set(samples.filter((s) => s.lane === 'gray').map((s) => s.user));
      const share = (gray.size / SPLIT_USERS) * 100;
      t.diagnostic(
        `weight ${weight}: ${share.toFixed(2)}% gray over ${SPLIT_USERS} users (version ${version})`,
      );
      assert.ok(Math.abs(share - weight) <= 3, `weight ${weight}: measured ${share}%`);
      splits.push(gray);
    }
  } finally {
    const rate = load.achievedRate();
    const background = await load.stop();
    check(background, versions);
    t.diagnostic(
      `${background.length} background requests at ${rate.toFixed(0)} req/s, versions seen ${[...new Set(background.map((s) => s.version))].join(',')}`,
    );
  }
  t.diagnostic(`write -> new version in force: ${latencies.join(', ')} ms`);
  // Users only move in as the weight rises: 0 ⊆ 10 ⊆ 30 ⊆ 100.
  for (let i = 1; i < 4; i++) {
    for (const user of splits[i - 1]!)
      assert.ok(splits[i]!.has(user), `${user} left the lane at weight ${WEIGHTS[i]}`);
  }
}

/** No failures, and each response's lane is exactly what its version decides for its user. */
function check(samples: readonly Sample[], versions: ReadonlyMap<number, CompiledRules>): void {
  assert.ok(samples.length > 0);
  const failed = samples.filter((s) => s.status !== 200);
  assert.equal(failed.length, 0, `failed: ${JSON.stringify(failed.slice(0, 3))}`);
  for (const s of samples) {
    const rules = versions.get(s.version);
    assert.ok(rules !== undefined, `unknown version ${s.version}`);
    assert.equal(
      s.lane,
      rules.decide({ headers: { 'x-user': s.user } }).lane,
      `${s.user} on version ${s.version}`,
    );
  }
}

test('a rule file changing five times under 200 req/s', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-live-edge-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.json');
  await walk(t, fileRuleSource({ path: file, debounceMs: 20, pollIntervalMs: 200 }), async (text) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file); // atomic, as ConfigMap volumes and careful editors do
  });
});

test('an etcd key changing five times under 200 req/s', async (t) => {
  const etcd = await startEtcd(t);
  const writer = new Etcd3({ hosts: etcd.endpoint });
  t.after(() => writer.close());
  const key = '/graylane/rules/edge';
  await walk(t, etcdRuleSource({ endpoints: etcd.endpoint, key }), async (text) => {
    await writer.put(key).value(text);
  });
});
