import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileIngress, InvalidOptionError } from '@graylane/core';
import { compileTrust, stripLaneTags } from '@graylane/rules';

test('trust policies: accept keeps any lane, strip none, an allowlist only its lanes', () => {
  const accept = compileTrust('accept', 'strip');
  assert.equal(accept.mode, 'accept');
  assert.equal(accept.admits('gray'), true);
  const strip = compileTrust('strip', 'accept');
  assert.equal(strip.mode, 'strip');
  assert.equal(strip.admits('gray'), false);
  const allow = compileTrust({ allowlist: ['qa', 'gray'] }, 'strip');
  assert.equal(allow.mode, 'allowlist');
  assert.equal(allow.admits('qa'), true);
  assert.equal(allow.admits('gray'), true);
  assert.equal(allow.admits('feature-x'), false);
  assert.equal(
    compileTrust(undefined, 'strip').mode,
    'strip',
    'the caller picks the default: strip at the edge',
  );
  assert.equal(compileTrust(undefined, 'accept').mode, 'accept');
});

test('bad trust policies fail at setup naming the field', () => {
  for (const [policy, path] of [
    ['trusted', 'trust'],
    [{ allowlist: 'gray' }, 'trust'],
    [{ allowlist: ['gray'], extra: 1 }, 'trust'],
    [{ allowlist: ['gray', '-bad'] }, 'trust.allowlist[1]'],
  ] as const) {
    assert.throws(
      () => compileTrust(policy as never, 'strip'),
      (err: unknown) => err instanceof InvalidOptionError && err.path === path,
      JSON.stringify(policy),
    );
  }
});

test('stripLaneTags removes the lane header and the lane baggage entry, keeping other entries', () => {
  const ingress = compileIngress();
  const headers: Record<string, string | string[] | undefined> = {
    'x-mse-tag': 'gray',
    baggage: 'userId=1, x-mse-tag=gray;prop=1 ,other=2',
    accept: '*/*',
  };
  assert.equal(stripLaneTags(headers, ingress), true);
  assert.deepEqual(headers, { baggage: 'userId=1,other=2', accept: '*/*' });
  const onlyLane: Record<string, string> = { baggage: 'x-mse-tag=gray' };
  assert.equal(stripLaneTags(onlyLane, ingress), true);
  assert.deepEqual(onlyLane, {}, 'an emptied baggage header is removed');
  const none: Record<string, string> = { baggage: 'x-mse-tagged=1', other: 'x' };
  assert.equal(stripLaneTags(none, ingress), false, 'a key that only starts like the lane key stays');
  assert.deepEqual(none, { baggage: 'x-mse-tagged=1', other: 'x' });
  const sources = compileIngress({
    sources: ['x-lane', { key: 'version', values: { '200': 'gray' } }],
    baggageKey: false,
  });
  const custom: Record<string, string> = { 'x-lane': 'a', version: '200', baggage: 'x-mse-tag=gray' };
  assert.equal(stripLaneTags(custom, sources), true);
  assert.deepEqual(custom, { baggage: 'x-mse-tag=gray' }, 'every configured source goes; baggage is off');
});
