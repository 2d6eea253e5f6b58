import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveRules } from '@graylane/rules';
import { etcdRuleSource } from '@graylane/rules/etcd';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../../../test/helpers/etcd';

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('etcdRuleSource: bad values rejected, deletion and an etcd restart reported, the last good set kept, then followed again', async (t) => {
  const etcd = await startEtcd(t);
  const writer = new Etcd3({ hosts: etcd.endpoint });
  t.after(() => writer.close());
  const key = '/graylane/rules/edge';
  await writer.put(key).value('rules:\n  - { lane: gray, weight: 10 }\n');
  const kinds: string[] = [];
  const live = liveRules({
    source: etcdRuleSource({ endpoints: etcd.endpoint, key }),
    onError: (error, info) => kinds.push(`${info.kind}:${(error as { code?: string }).code}`),
  });
  t.after(() => live.close());
  const first = await live.ready();
  assert.equal(first.source, `etcd:${key}`);
  assert.equal(first.rules.rules[0]?.weight, 10);
  const revision = first.revision;
  assert.match(revision ?? '', /^\d+$/);

  await writer.put(key).value('[{ "lane": "gray", "weight": -1 }]');
  await writer.put(key).value('{ nope');
  await until('two rejections', () => live.status().rejected === 2);
  await writer.delete().key(key);
  await until('the deletion', () => live.status().sourceErrors === 1);
  assert.equal(live.current.rules.rules[0]?.weight, 10, 'the last good set stays');
  assert.deepEqual(kinds, [
    'invalid:GL_ERR_INVALID_RULE',
    'invalid:GL_ERR_RULE_SOURCE',
    'unavailable:GL_ERR_RULE_SOURCE',
  ]);

  await etcd.kill();
  await until('the outage', () => live.status().sourceErrors >= 2);
  assert.equal(live.current.rules.rules[0]?.weight, 10);
  await etcd.restart();
  await writer.put(key).value('[{ "lane": "gray", "weight": 40 }]');
  await until('the recovery', () => live.current.rules.rules[0]?.weight === 40);
  assert.ok(BigInt(live.current.revision!) > BigInt(revision!));
});
