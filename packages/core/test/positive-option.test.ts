import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';

test('positiveOption: the fallback when unset, the value when positive, a typed error otherwise', () => {
  assert.equal(positiveOption(undefined, 'debounceMs', 50), 50);
  assert.equal(positiveOption(0.5, 'debounceMs', 50), 0.5);
  assert.equal(positiveOption(3, 'ttlSeconds', 10, true), 3);
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5', null]) {
    assert.throws(
      () => positiveOption(bad, 'debounceMs', 50),
      (err: unknown) => err instanceof InvalidOptionError && err.path === 'debounceMs',
      String(bad),
    );
  }
  assert.throws(
    () => positiveOption(1.5, 'ttlSeconds', 10, true),
    (err: unknown) => err instanceof InvalidOptionError && /positive integer/.test(err.message),
  );
});
