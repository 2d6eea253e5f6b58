import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidOptionError } from '@graylane/core';
import { compileTrust } from '@graylane/rules';

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
