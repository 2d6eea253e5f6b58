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
  // A malformed member for the key makes the read malformed wherever it stands: no other member
  // for the key is picked over it.
  for (const bad of ['x-mse-tag=%ZZ,x-mse-tag=gray', 'x-mse-tag=gray,x-mse-tag=%ZZ']) {
    assert.deepEqual(readBaggage(bad, KEY), { ok: false, reason: 'malformed-baggage' }, bad);
  }
});

test('duplicate keys: the same value repeated is that value; different values are a conflict', () => {
  assert.equal(value('x-mse-tag=gray,a=1,x-mse-tag=gray'), 'gray');
  assert.equal(value('x-mse-tag=gray, x-mse-tag = %67ray;p'), 'gray', 'compared after decoding');
  assert.equal(value(['x-mse-tag=gray', 'x-mse-tag=gray']), 'gray');
  for (const ambiguous of [
    'x-mse-tag=gray,x-mse-tag=blue',
    'x-mse-tag=blue,a=1,x-mse-tag=gray',
    'x-mse-tag=gray,x-mse-tag=Gray',
    'x-mse-tag=gray,x-mse-tag=',
  ]) {
    assert.deepEqual(readBaggage(ambiguous, KEY), { ok: false, reason: 'conflict' }, ambiguous);
  }
  assert.deepEqual(readBaggage(['x-mse-tag=gray', 'x-mse-tag=blue'], KEY), { ok: false, reason: 'conflict' });
});

test('only SP and HTAB are optional whitespace: other white space around a value is malformed', () => {
  // JavaScript's trim() removes all of these; W3C baggage allows none of them (OWS = SP / HTAB).
  const spaces = [
    '\u00a0',
    '\v',
    '\f',
    '\ufeff',
    '\u2028',
    '\u2029',
    '\u3000',
    '\u0085',
    '\r',
    '\n',
    '\u1680',
  ];
  for (const ws of spaces) {
    for (const header of [`x-mse-tag=${ws}gray`, `x-mse-tag=gray${ws}`, `x-mse-tag= ${ws}gray ;p`]) {
      assert.deepEqual(
        readBaggage(header, KEY),
        { ok: false, reason: 'malformed-baggage' },
        JSON.stringify(header),
      );
    }
  }
  // SP and HTAB are trimmed, anywhere OWS is allowed.
  assert.equal(value(' \t x-mse-tag \t = \t gray \t ; \t p \t = \t 1 \t , a=1'), 'gray');
});

test('a value is baggage-octets only: no space, DQUOTE, backslash, control or non-ASCII character', () => {
  for (const bad of ['gr ay', 'gr"ay', 'gr\\ay', 'grày', 'gr\u0000ay', 'gr\u007fay', 'gr\tay', '✓']) {
    assert.deepEqual(
      readBaggage(`x-mse-tag=${bad}`, KEY),
      { ok: false, reason: 'malformed-baggage' },
      JSON.stringify(bad),
    );
  }
  // Everything else printable is a baggage-octet, '=' included (W3C: values may contain '=').
  assert.equal(value("x-mse-tag=!#$%25&'()*+-./:<=>?@[]^_`{|}~"), "!#$%&'()*+-./:<=>?@[]^_`{|}~");
  assert.equal(value('x-mse-tag=a=b'), 'a=b');
});

test('properties of the lane member follow the grammar: key [= value], separated by ";"', () => {
  assert.equal(value('x-mse-tag=gray;ttl=3;flag'), 'gray');
  assert.equal(value('x-mse-tag=gray ; ttl = 3 ; flag '), 'gray');
  for (const bad of [
    'x-mse-tag=gray;',
    'x-mse-tag=gray;;p',
    'x-mse-tag=gray;=3',
    'x-mse-tag=gray;p=a b',
    'x-mse-tag=gray;p\u00a0',
    'x-mse-tag=gray;k@y=1',
    'x-mse-tag=gray;p="q"',
  ]) {
    assert.deepEqual(readBaggage(bad, KEY), { ok: false, reason: 'malformed-baggage' }, JSON.stringify(bad));
  }
  // Properties of other members are not ours to judge.
  assert.equal(value('a=1;;\u00a0,x-mse-tag=gray'), 'gray');
});

test('input outside the declared types never throws: a type or unreadable read', () => {
  for (const header of [
    null,
    42,
    Number.NaN,
    true,
    {},
    new Date(),
    Symbol('b'),
    () => 'x-mse-tag=gray',
    1n,
  ]) {
    assert.deepEqual(
      readBaggage(header as unknown as string, KEY),
      { ok: false, reason: 'type' },
      String(typeof header),
    );
  }
  for (const header of [['x-mse-tag=gray', null], [Symbol('b')], [new Date()], [42], new Array(3)]) {
    assert.deepEqual(readBaggage(header as unknown as string[], KEY), { ok: false, reason: 'type' });
  }
  const throwing = new Proxy(['x-mse-tag=gray'], {
    get(target, property) {
      if (property === '0') throw new Error('trap');
      return Reflect.get(target, property);
    },
  });
  assert.deepEqual(readBaggage(throwing, KEY), { ok: false, reason: 'unreadable' });
  // A key that is not a token matches no member.
  assert.deepEqual(readBaggage('a=b=gray', 'a=b'), { ok: true, value: undefined });
  assert.deepEqual(readBaggage('x=1', 42 as unknown as string), { ok: true, value: undefined });
});

test('an array of header values is bounded before it is joined or read in full', () => {
  // 1,000,000 values of 4 characters: far over the bound. Count how many values are read.
  let reads = 0;
  const values = new Proxy(new Array<string>(1_000_000).fill('a=12'), {
    get(target, property) {
      if (typeof property === 'string' && /^\d+$/.test(property)) reads++;
      return Reflect.get(target, property);
    },
  });
  assert.deepEqual(readBaggage(values, KEY), { ok: false, reason: 'oversize' });
  assert.ok(reads <= MAX_BAGGAGE_LENGTH / 4 + 1, `${reads} values read`);
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
