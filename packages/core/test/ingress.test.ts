import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  compileIngress,
  extractCarry,
  extractLane,
  type IngressOptions,
  InvalidOptionError,
  type InvalidTagMessage,
  ingressCounters,
  laneFromHeaders,
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

test('array values: the first value of a header counts; baggage arrays are one list', () => {
  assert.equal(laneFromHeaders({ 'x-mse-tag': ['gray', 'blue'] }), 'gray');
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
  const { invalidTags } = ingressCounters();
  assert.equal(
    invalidTags.total,
    invalidTags.grammar + invalidTags.oversize + invalidTags.unmapped + invalidTags['malformed-baggage'],
  );
  assert.equal(invalidTotal(), 2);
});
