import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  compileIngress,
  extractCarry,
  extractLane,
  type HeaderRecord,
  type HeadersLike,
  type IngressOptions,
  InvalidOptionError,
  type InvalidTagMessage,
  type InvalidTagReason,
  ingressCounters,
  laneFromHeaders,
  MAX_TAG_FIELD_LENGTH,
  RECORD_GETTER,
  resetIngressCounters,
} from '@graylane/core';
import { assertTypedError } from '../../../test/helpers/typed-error';

function invalidTotal(): number {
  return ingressCounters().invalidTags.total;
}

test('laneFromHeaders reads x-mse-tag by default', () => {
  assert.equal(laneFromHeaders({ 'x-mse-tag': 'gray' }), 'gray');
  assert.equal(laneFromHeaders({}), undefined);
  assert.equal(laneFromHeaders({ 'x-other': 'gray' }), undefined);
});

test('the header wins over baggage; baggage is read when the header is absent or invalid', () => {
  resetIngressCounters();
  assert.equal(laneFromHeaders({ 'x-mse-tag': 'gray', baggage: 'x-mse-tag=blue' }), 'gray');
  assert.equal(laneFromHeaders({ baggage: 'userId=1, x-mse-tag=blue;ttl=3' }), 'blue');
  assert.equal(laneFromHeaders({ 'x-mse-tag': '-bad-', baggage: 'x-mse-tag=blue' }), 'blue');
  assert.equal(ingressCounters().invalidTags.grammar, 1, 'the invalid header is still counted');
  assert.equal(laneFromHeaders({ baggage: 'x-mse-tag=blue' }, { baggageKey: false }), undefined);
  assert.equal(laneFromHeaders({ baggage: 'lane=blue' }, { baggageKey: 'lane' }), 'blue');
  // Baggage keys are case-sensitive (W3C); header names are not.
  assert.equal(laneFromHeaders({ baggage: 'Lane=blue' }, { baggageKey: 'lane' }), undefined);
  assert.equal(laneFromHeaders({ 'x-lane': 'gray' }, { header: 'X-Lane' }), 'gray');
});

test('sources are tried in order; value -> lane maps translate and count unmapped values', () => {
  resetIngressCounters();
  const options: IngressOptions = {
    sources: [{ key: 'version', values: { '200': 'gray', '100': 'stable-v1' } }, 'x-mse-tag'],
    baggageValues: { v2: 'gray' },
  };
  assert.equal(laneFromHeaders({ version: '200' }, options), 'gray');
  assert.equal(laneFromHeaders({ version: '100', 'x-mse-tag': 'blue' }, options), 'stable-v1');
  assert.equal(laneFromHeaders({ version: '300', 'x-mse-tag': 'blue' }, options), 'blue');
  assert.equal(ingressCounters().invalidTags.unmapped, 1);
  assert.equal(laneFromHeaders({ baggage: 'x-mse-tag=v2' }, options), 'gray');
  assert.equal(laneFromHeaders({ baggage: 'x-mse-tag=gray' }, options), undefined, 'not in the map');
  assert.equal(ingressCounters().invalidTags.unmapped, 2);
  // A mapped source does not need the raw value to be a lane: '200' is not checked against grammar.
  assert.equal(
    laneFromHeaders({ version: '200' }, { sources: [{ key: 'Version', values: { '200': 'g' } }] }),
    'g',
  );
});

test('invalid, oversized and huge values are ignored and counted, never thrown', () => {
  resetIngressCounters();
  const mib = 'x'.repeat(1 << 20);
  assert.equal(laneFromHeaders({ 'x-mse-tag': 'gr ay' }), undefined);
  assert.equal(laneFromHeaders({ 'x-mse-tag': '' }), undefined);
  assert.equal(laneFromHeaders({ 'x-mse-tag': 'g'.repeat(64) }), undefined);
  assert.equal(laneFromHeaders({ 'x-mse-tag': mib }), undefined);
  assert.equal(laneFromHeaders({ baggage: `x-mse-tag=${mib}` }), undefined);
  assert.equal(laneFromHeaders({ baggage: `x-mse-tag=gray,${'k=v,'.repeat(3000)}` }), undefined);
  assert.equal(laneFromHeaders({ baggage: 'x-mse-tag=%E0%A4%A' }), undefined);
  assert.equal(
    laneFromHeaders({ version: mib }, { sources: [{ key: 'version', values: { '200': 'gray' } }] }),
    undefined,
  );
  const counters = ingressCounters().invalidTags;
  assert.equal(counters.grammar, 2);
  // 64 chars, 1 MiB header, 1 MiB baggage, baggage over 8192 chars, 1 MiB mapped value.
  assert.equal(counters.oversize, 5);
  assert.equal(counters['malformed-baggage'], 1);
  assert.equal(counters.total, 8);
});

test('an invalid tag is published on graylane:ingress:invalid-tag, cut to 64 characters', (t) => {
  const messages: InvalidTagMessage[] = [];
  const onMessage = (message: unknown) => messages.push(message as InvalidTagMessage);
  diagnosticsChannel.subscribe('graylane:ingress:invalid-tag', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:ingress:invalid-tag', onMessage));
  laneFromHeaders({ 'x-mse-tag': 'y'.repeat(1 << 20) });
  laneFromHeaders({ baggage: 'x-mse-tag=%%' });
  assert.equal(messages.length, 2);
  assert.deepEqual(messages[0], {
    carrier: 'header',
    key: 'x-mse-tag',
    reason: 'oversize',
    value: 'y'.repeat(64),
  });
  assert.equal(messages[1]!.carrier, 'baggage');
  assert.equal(messages[1]!.reason, 'malformed-baggage');
});

test('array values: all values of a header must agree; baggage arrays are one list', () => {
  assert.equal(laneFromHeaders({ 'x-mse-tag': ['gray', 'gray'] }), 'gray');
  assert.equal(laneFromHeaders({ 'x-mse-tag': [] }), undefined);
  assert.equal(laneFromHeaders({ baggage: ['a=1', 'x-mse-tag=blue'] }), 'blue');
  // Number-valued records (some frameworks) are read as strings.
  assert.equal(
    laneFromHeaders({ version: 200 }, { sources: [{ key: 'version', values: { '200': 'gray' } }] }),
    'gray',
  );
});

test('WHATWG Headers are accepted, case-insensitively', () => {
  assert.equal(laneFromHeaders(new Headers({ 'X-MSE-TAG': 'gray' })), 'gray');
  assert.equal(laneFromHeaders(new Headers({ Baggage: 'x-mse-tag=blue' })), 'blue');
  assert.equal(laneFromHeaders(new Headers()), undefined);
  const h = new Headers();
  h.append('baggage', 'a=1');
  h.append('baggage', 'x-mse-tag=blue');
  assert.equal(laneFromHeaders(h), 'blue');
});

test('options are validated at setup with InvalidOptionError naming the path', () => {
  const cases: Array<[unknown, string]> = [
    [null, 'options'],
    ['x-mse-tag', 'options'],
    [{ header: 'bad header' }, 'header'],
    [{ header: 42 }, 'header'],
    [{ sources: 'x-mse-tag' }, 'sources'],
    [{ sources: ['ok', 'no good'] }, 'sources[1]'],
    [{ sources: [null] }, 'sources[0]'],
    [{ sources: [{ key: 'version', values: { '200': '-bad' } }] }, 'sources[0].values["200"]'],
    [{ sources: [{ key: 'version', values: ['gray'] }] }, 'sources[0].values'],
    [{ sources: [{ values: {} }] }, 'sources[0].key'],
    [{ baggageKey: 'x y' }, 'baggageKey'],
    [{ baggageValues: { a: 'not a lane!' } }, 'baggageValues["a"]'],
    [{ baggageKey: false, baggageValues: { a: 'gray' } }, 'baggageValues'],
    [{ carry: 'x-user-id' }, 'carry'],
    [{ carry: ['x-user-id', 'bad name'] }, 'carry[1]'],
    // A misspelt option would silently read the default header instead.
    [{ heder: 'x-lane' }, 'heder'],
    [{ header: 'x-lane', baggagekey: 'lane' }, 'baggagekey'],
    // `value` for `values`: the source would silently require raw lane tags.
    [{ sources: [{ key: 'version', value: { '200': 'gray' } }] }, 'sources[0].value'],
  ];
  for (const [options, path] of cases) {
    assertTypedError(
      () => compileIngress(options as IngressOptions),
      InvalidOptionError,
      { code: 'GL_ERR_INVALID_OPTION', path },
      JSON.stringify(options),
    );
    // laneFromHeaders compiles its options and throws the same way.
    assert.throws(() => laneFromHeaders({}, options as IngressOptions), { path });
  }
});

test('laneFromHeaders compiles an options object once and reuses it', () => {
  const options: IngressOptions = { sources: [{ key: 'version', values: { '200': 'gray' } }] };
  assert.equal(laneFromHeaders({ version: '200' }, options), 'gray');
  // Mutating the options after first use has no effect: the compiled form is cached.
  (options.sources as Array<unknown>).push('x-mse-tag');
  assert.equal(laneFromHeaders({ 'x-mse-tag': 'blue' }, options), undefined);
});

test('extractCarry reads configured headers, skips absent and oversized ones', () => {
  const compiled = compileIngress({ carry: ['X-User-Id', 'x-request-id', 'x-big'] });
  assert.deepEqual(extractCarry({ 'x-user-id': '42', 'x-big': 'b'.repeat(5000) }, RECORD_GETTER, compiled), [
    ['x-user-id', '42'],
  ]);
  assert.equal(extractCarry({}, RECORD_GETTER, compiled), undefined);
  assert.equal(extractCarry({ 'x-user-id': '1' }, RECORD_GETTER, compileIngress()), undefined);
  assert.equal(extractLane({ 'x-mse-tag': 'gray' }, RECORD_GETTER, compiled), 'gray');
});

test('the invalid-tag counter total equals the sum of its reasons', () => {
  resetIngressCounters();
  laneFromHeaders({ 'x-mse-tag': '!' });
  laneFromHeaders({ baggage: 'x-mse-tag=%' });
  laneFromHeaders({ 'x-mse-tag': ['a', 'b'] });
  laneFromHeaders({ 'x-mse-tag': null } as unknown as HeaderRecord);
  const { invalidTags } = ingressCounters();
  const { total, ...reasons } = invalidTags;
  assert.equal(
    total,
    Object.values(reasons).reduce((sum, n) => sum + n, 0),
  );
  assert.equal(invalidTotal(), 4);
});

/** Counts per reason while `fn` runs. */
function countedDuring(fn: () => void): Partial<Record<InvalidTagReason, number>> {
  resetIngressCounters();
  fn();
  const { total: _total, ...reasons } = ingressCounters().invalidTags;
  const seen: Partial<Record<InvalidTagReason, number>> = {};
  for (const [reason, n] of Object.entries(reasons)) if (n > 0) seen[reason as InvalidTagReason] = n;
  return seen;
}

test('baggage values are trimmed of SP and HTAB only: \\u00a0gray is not gray', () => {
  for (const ws of ['\u00a0', '\v', '\f', '\ufeff', '\u2028']) {
    assert.deepEqual(
      countedDuring(() => assert.equal(laneFromHeaders({ baggage: `x-mse-tag=${ws}gray` }), undefined)),
      { 'malformed-baggage': 1 },
      JSON.stringify(ws),
    );
  }
  assert.equal(laneFromHeaders({ baggage: 'x-mse-tag=\t gray \t' }), 'gray');
});

test('request input outside the declared types never throws: ignored and counted as type', () => {
  const odd: unknown[] = [
    null,
    new Date(),
    42n,
    Symbol('lane'),
    () => 'gray',
    {},
    { toString: () => 'gray' },
    ['gray', null],
    [42],
    [Symbol('lane')],
    true,
    Number.NaN,
  ];
  for (const value of odd) {
    for (const key of ['x-mse-tag', 'baggage']) {
      const headers = { [key]: value } as unknown as HeaderRecord;
      assert.deepEqual(
        countedDuring(() => assert.equal(laneFromHeaders(headers), undefined)),
        { type: 1 },
        `${key}: ${typeof value}`,
      );
    }
  }
  // Whole carriers of the wrong type: nothing to read, counted once.
  for (const headers of [null, undefined, 42, 'x-mse-tag', Symbol('h'), true]) {
    assert.deepEqual(
      countedDuring(() => assert.equal(laneFromHeaders(headers as unknown as HeaderRecord), undefined)),
      { type: 1 },
      String(typeof headers),
    );
  }
  // Finite numbers are declared (HeaderRecord) and read as their decimal string.
  assert.equal(laneFromHeaders({ 'x-mse-tag': 7 }), '7');
});

test('carriers that throw are ignored and counted as unreadable; the next source is tried', () => {
  const getterThrows = Object.defineProperty({ baggage: 'x-mse-tag=blue' }, 'x-mse-tag', {
    enumerable: true,
    get() {
      throw new Error('getter');
    },
  }) as HeaderRecord;
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders(getterThrows), 'blue')),
    { unreadable: 1 },
  );
  const proxyThrows = new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
      has() {
        throw new Error('trap');
      },
      getOwnPropertyDescriptor() {
        throw new Error('trap');
      },
    },
  );
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders(proxyThrows), undefined)),
    { unreadable: 1 },
  );
  const arrayThrows = new Proxy(['gray'], {
    get(target, property) {
      if (property === '0') throw new Error('trap');
      return Reflect.get(target, property);
    },
  });
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders({ 'x-mse-tag': arrayThrows }), undefined)),
    { unreadable: 1 },
  );
  const getThrows = {
    get: () => {
      throw new Error('get');
    },
  };
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders(getThrows), undefined)),
    { unreadable: 2 },
    'the header and the baggage read both fail',
  );
  // A Headers-like (or Map) whose get returns odd values.
  const map = new Map<string, unknown>([
    ['x-mse-tag', 42n],
    ['baggage', 'x-mse-tag=gray'],
  ]);
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders(map as unknown as HeadersLike), 'gray')),
    { type: 1 },
  );
  assert.equal(laneFromHeaders(new Map([['x-mse-tag', 'gray']]) as unknown as HeadersLike), 'gray');
  // extractCarry never throws either.
  const compiled = compileIngress({ carry: ['x-user-id', 'x-a', 'x-b'] });
  assert.deepEqual(
    extractCarry(
      { 'x-user-id': null, 'x-a': ['1', null], 'x-b': 'ok' } as unknown as HeaderRecord,
      RECORD_GETTER,
      compiled,
    ),
    [
      ['x-a', '1'],
      ['x-b', 'ok'],
    ],
  );
  assert.equal(
    extractCarry(getterThrows, RECORD_GETTER, compileIngress({ carry: ['x-mse-tag'] })),
    undefined,
  );
});

test('one rule for repeated and listed values: the same lane agrees, different lanes conflict', () => {
  // Node joins repeated headers with ', '; Headers joins appended values the same way.
  const agree: Array<[HeaderRecord | HeadersLike, string]> = [
    [{ 'x-mse-tag': 'gray, gray' }, 'gray'],
    [{ 'x-mse-tag': ['gray', 'gray'] }, 'gray'],
    [{ 'x-mse-tag': ['gray', 'gray, gray'] }, 'gray'],
    [{ 'x-mse-tag': ' \tgray\t ' }, 'gray'],
    [{ 'x-mse-tag': 'gray,' }, 'gray'],
    [{ 'x-mse-tag': ', gray' }, 'gray'],
    [{ 'x-mse-tag': ['', 'gray'] }, 'gray'],
  ];
  for (const [headers, lane] of agree) {
    assert.deepEqual(
      countedDuring(() => assert.equal(laneFromHeaders(headers), lane)),
      {},
      JSON.stringify(headers),
    );
  }
  const conflicting: Array<HeaderRecord | HeadersLike> = [
    { 'x-mse-tag': 'gray, feature-x' },
    { 'x-mse-tag': 'gray,feature-x' },
    { 'x-mse-tag': ['gray', 'feature-x'] },
    { 'x-mse-tag': ['gray', 'gray, feature-x'] },
    { 'x-mse-tag': 'gray, Gray' },
    { 'x-mse-tag': 'gray, -bad-' },
  ];
  for (const headers of conflicting) {
    assert.deepEqual(
      countedDuring(() => assert.equal(laneFromHeaders(headers), undefined)),
      { conflict: 1 },
      JSON.stringify(headers),
    );
  }
  // A conflicting header is not a lane; like any invalid tag, the next source (baggage) is read.
  assert.equal(laneFromHeaders({ 'x-mse-tag': 'a, b', baggage: 'x-mse-tag=gray' }), 'gray');
  // WHATWG Headers fold case and join: case variants that disagree are a conflict.
  const h = new Headers();
  h.append('X-MSE-TAG', 'gray');
  h.append('x-mse-tag', 'blue');
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders(h), undefined)),
    { conflict: 1 },
  );
  // Plain records are read by the lowercase name only (Node's IncomingHttpHeaders always are).
  assert.equal(laneFromHeaders({ 'X-Mse-Tag': 'blue', 'x-mse-tag': 'gray' }), 'gray');
  assert.equal(laneFromHeaders({ 'X-Mse-Tag': 'blue' }), undefined);
  assert.equal(laneFromHeaders(new Headers({ 'X-Mse-Tag': 'blue' })), 'blue');
  // Value maps: each listed value is compared raw, before mapping.
  const mapped: IngressOptions = { sources: [{ key: 'version', values: { '200': 'gray', '201': 'gray' } }] };
  assert.equal(laneFromHeaders({ version: '200, 200' }, mapped), 'gray');
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders({ version: '200, 201' }, mapped), undefined)),
    { conflict: 1 },
  );
  // Only SP and HTAB are trimmed: other white space makes the value invalid.
  for (const ws of ['\u00a0', '\v', '\f', '\ufeff', '\u2028']) {
    assert.deepEqual(
      countedDuring(() => assert.equal(laneFromHeaders({ 'x-mse-tag': `${ws}gray` }), undefined)),
      { grammar: 1 },
    );
  }
});

test('a mapped value that no header value can ever equal is refused at setup', () => {
  for (const value of ['', 'a,b', ' 200', '200\t']) {
    assert.throws(
      () => compileIngress({ sources: [{ key: 'version', values: { [value]: 'gray' } }] }),
      { code: 'GL_ERR_INVALID_OPTION' },
      JSON.stringify(value),
    );
  }
});

test(`a lane header's values are bounded together before they are read (${MAX_TAG_FIELD_LENGTH} characters)`, () => {
  let reads = 0;
  const values = new Proxy(new Array<string>(1_000_000).fill('gray'), {
    get(target, property) {
      if (typeof property === 'string' && /^\d+$/.test(property)) reads++;
      return Reflect.get(target, property);
    },
  });
  assert.deepEqual(
    countedDuring(() => assert.equal(laneFromHeaders({ 'x-mse-tag': values }), undefined)),
    { oversize: 1 },
  );
  assert.ok(reads <= MAX_TAG_FIELD_LENGTH / 4 + 1, `${reads} values read`);
  assert.equal(laneFromHeaders({ 'x-mse-tag': `gray${', gray'.repeat(100)}` }), 'gray');
  assert.deepEqual(
    countedDuring(() => laneFromHeaders({ 'x-mse-tag': `gray${', gray'.repeat(1000)}` })),
    { oversize: 1 },
  );
  // Baggage arrays are bounded the same way, before any join.
  assert.equal(laneFromHeaders({ baggage: new Array<string>(140_000).fill('k=v') }), undefined);
});

test('a request with thousands of header keys is read by lookup, not by scanning', () => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < 20_000; i++) headers[`x-h-${i}`] = 'v';
  headers['x-mse-tag'] = 'gray';
  let enumerated = false;
  const watched = new Proxy(headers, {
    ownKeys(target) {
      enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
  assert.equal(laneFromHeaders(watched), 'gray');
  assert.equal(enumerated, false, 'the header names are never enumerated');
});
