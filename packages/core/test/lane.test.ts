import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLane, parseLane } from '@graylane/core';

test('parseLane accepts exactly a Kubernetes label value', () => {
  for (const ok of ['gray', 'a', 'A1', 'feature-x', 'v1.2_3', 'x'.repeat(63), '0', 'a-b.c_d']) {
    assert.equal(parseLane(ok), ok, ok);
    assert.equal(isLane(ok), true);
  }
  for (const bad of [
    '',
    '-gray',
    'gray-',
    '.a',
    'a_',
    'x'.repeat(64),
    'gr ay',
    'gray\n',
    'grày',
    'a/b',
    'a,b',
  ]) {
    assert.equal(parseLane(bad), undefined, JSON.stringify(bad));
    assert.equal(isLane(bad), false);
  }
});

test('parseLane returns undefined for non-strings and never throws', () => {
  for (const v of [undefined, null, 1, {}, ['gray'], Symbol('x'), 'x'.repeat(1 << 20)]) {
    assert.equal(parseLane(v), undefined);
  }
});
