import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_BAGGAGE_ENTRIES, MAX_BAGGAGE_LENGTH, readBaggage } from '@graylane/core';

const KEY = 'x-mse-tag';

function value(header: string | readonly string[] | undefined): string | undefined {
  const read = readBaggage(header, KEY);
  assert.equal(read.ok, true, `expected ok for ${JSON.stringify(header)?.slice(0, 80)}`);
  return read.ok ? read.value : undefined;
}

test('absent header, absent key and empty header read as no value', () => {
  assert.deepEqual(readBaggage(undefined, KEY), { ok: true, value: undefined });
  assert.equal(value(''), undefined);
  assert.equal(value('a=1,b=2'), undefined);
  assert.equal(value([]), undefined);
});

test('finds the key among members, in any position', () => {
  assert.equal(value('x-mse-tag=gray'), 'gray');
  assert.equal(value('a=1,x-mse-tag=gray'), 'gray');
  assert.equal(value('x-mse-tag=gray,a=1'), 'gray');
  assert.equal(value('a=1,x-mse-tag=gray,b=2'), 'gray');
});

test('properties after ";" are not part of the value', () => {
  assert.equal(value('x-mse-tag=gray;ttl=3'), 'gray');
  assert.equal(value('x-mse-tag=gray;propertyOnly,a=1'), 'gray');
  assert.equal(value('x-mse-tag = gray ; ttl=3 ; p'), 'gray');
  // A ";" in a later member does not cut this one.
  assert.equal(value('x-mse-tag=gray,a=1;p=2'), 'gray');
});

test('optional whitespace (SP / HTAB) around keys, "=" and values is ignored', () => {
  assert.equal(value('  x-mse-tag=gray'), 'gray');
  assert.equal(value('a=1 ,\tx-mse-tag\t=\tgray\t, b=2'), 'gray');
  assert.equal(value('x-mse-tag =gray'), 'gray');
  assert.equal(value('x-mse-tag= gray '), 'gray');
});

test('keys match exactly: case-sensitive, no prefix or suffix matches', () => {
  assert.equal(value('X-MSE-TAG=gray'), undefined);
  assert.equal(value('x-mse-tag-extra=gray'), undefined);
  assert.equal(value('my-x-mse-tag=gray'), undefined);
  assert.equal(value('x-mse-ta=gray'), undefined);
  assert.equal(value('x-mse-tag'), undefined, 'a member without "=" is skipped');
  assert.equal(value('x-mse-tag;x=gray'), undefined);
  assert.equal(value('foo;x-mse-tag=gray'), undefined, 'inside a property of another member');
});

test('percent-encoded values are decoded', () => {
  assert.equal(value('x-mse-tag=%67ray'), 'gray');
  assert.equal(value('x-mse-tag=feature%2Dx'), 'feature-x');
  assert.equal(value('x-mse-tag=a%20b'), 'a b', 'decoded; grammar is checked by the caller');
  assert.equal(value('x-mse-tag=%E2%9C%93'), '✓');
});

test('malformed escapes in the deciding member make the read malformed', () => {
  for (const bad of [
    'x-mse-tag=%',
    'x-mse-tag=%G1',
    'x-mse-tag=ab%2',
    'x-mse-tag=%E0%A4%A',
    'x-mse-tag=%C3%28',
  ]) {
    assert.deepEqual(readBaggage(bad, KEY), { ok: false, reason: 'malformed-baggage' }, bad);
  }
  // A malformed escape in another member does not matter: only our member is decoded.
  assert.equal(value('a=%ZZ,x-mse-tag=gray'), 'gray');
  // A later valid member for the key decides (last wins).
  assert.equal(value('x-mse-tag=%ZZ,x-mse-tag=gray'), 'gray');
  assert.deepEqual(readBaggage('x-mse-tag=gray,x-mse-tag=%ZZ', KEY), {
    ok: false,
    reason: 'malformed-baggage',
  });
});

test('duplicate keys: the last member wins, as in the OpenTelemetry W3C propagator', () => {
  assert.equal(value('x-mse-tag=gray,x-mse-tag=blue'), 'blue');
  assert.equal(value('x-mse-tag=gray,a=1,x-mse-tag=gray'), 'gray');
  assert.equal(value(['x-mse-tag=gray', 'x-mse-tag=blue']), 'blue');
});

test(`more than ${MAX_BAGGAGE_ENTRIES} members is refused as a whole (oversize)`, () => {
  const members = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v`);
  assert.equal(value([...members(MAX_BAGGAGE_ENTRIES - 1), 'x-mse-tag=gray'].join(',')), 'gray');
  assert.deepEqual(readBaggage([...members(MAX_BAGGAGE_ENTRIES), 'x-mse-tag=gray'].join(','), KEY), {
    ok: false,
    reason: 'oversize',
  });
  assert.deepEqual(readBaggage(['x-mse-tag=gray', ...members(MAX_BAGGAGE_ENTRIES)], KEY), {
    ok: false,
    reason: 'oversize',
  });
});

test(`a header over ${MAX_BAGGAGE_LENGTH} characters is refused as a whole (oversize), not parsed`, () => {
  const head = 'x-mse-tag=gray,pad=';
  const exact = head + 'p'.repeat(MAX_BAGGAGE_LENGTH - head.length);
  assert.equal(exact.length, MAX_BAGGAGE_LENGTH);
  assert.equal(value(exact), 'gray');
  assert.deepEqual(readBaggage(`${exact}p`, KEY), { ok: false, reason: 'oversize' });
  assert.deepEqual(readBaggage(`x-mse-tag=gray,${'z'.repeat(1 << 20)}`, KEY), {
    ok: false,
    reason: 'oversize',
  });
  // Several header values are bounded together.
  assert.deepEqual(readBaggage(['x-mse-tag=gray', 'p'.repeat(MAX_BAGGAGE_LENGTH)], KEY), {
    ok: false,
    reason: 'oversize',
  });
});

test('empty members and trailing commas are tolerated', () => {
  assert.equal(value(',x-mse-tag=gray,'), 'gray');
  assert.equal(value('a=1,,x-mse-tag=gray'), 'gray');
  assert.equal(value('x-mse-tag='), '', 'an empty value is returned; the caller rejects it as a lane');
});

test('reads any configured key', () => {
  assert.deepEqual(readBaggage('lane=gray,x-mse-tag=blue', 'lane'), { ok: true, value: 'gray' });
  assert.deepEqual(readBaggage('a.b_c=1', 'a.b_c'), { ok: true, value: '1' });
});
