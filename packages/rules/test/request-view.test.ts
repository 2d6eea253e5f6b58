// How decide() reads a request: the path/query/fragment split, fields of the wrong type, and the
// cost of a request record with many header keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRules, type EdgeRequest } from '@graylane/rules';

const BASE = 'http://h';

test('the query ends at the fragment and a fragment holds no query, as WHATWG URL and Express read them', () => {
  const rules = compileRules([
    { lane: 'gray', matches: [{ queryParams: [{ name: 'lane', value: 'gray' }] }] },
    { lane: 'path', matches: [{ path: '/y' }] },
  ]);
  // target -> [the lane decided, the path Express reports (req.path)]
  const cases: ReadonlyArray<readonly [string, string | undefined, string]> = [
    ['/y#?lane=gray', 'path', '/y'],
    ['/y#x?lane=gray', 'path', '/y'],
    ['/y?#lane=gray', 'path', '/y'],
    ['/y?a=1#?lane=gray', 'path', '/y'],
    ['/y?a=1#&lane=gray', 'path', '/y'],
    ['/y?lane=gray#x', 'gray', '/y'],
    ['/z#?lane=gray', undefined, '/z'],
    ['http://h/y#?lane=gray', 'path', '/y'],
    ['http://h#?lane=gray', undefined, '/'],
    ['http://h?lane=gray', 'gray', '/'],
    ['http://h/y?lane=gray#f', 'gray', '/y'],
  ];
  for (const [target, lane, path] of cases) {
    const url = new URL(target, BASE);
    assert.equal(url.searchParams.get('lane') === 'gray', lane === 'gray', `WHATWG URL agrees on ${target}`);
    assert.equal(url.pathname, path, `WHATWG URL agrees on the path of ${target}`);
    assert.equal(
      rules.decide({ method: 'GET', url: target, headers: {} } as never).lane,
      lane,
      `url ${target}`,
    );
    assert.equal(rules.decide({ path: target }).lane, lane, `path ${target}`);
  }
});

test('the path of an absolute-form target with no path is /', () => {
  const rules = compileRules([{ lane: 'root', matches: [{ path: '/' }] }]);
  assert.equal(rules.decide({ url: 'http://h?x=1', headers: {} } as never).lane, 'root');
  assert.equal(rules.decide({ url: 'http://h#f', headers: {} } as never).lane, 'root');
  assert.equal(rules.decide({ url: 'http://h', headers: {} } as never).lane, 'root');
});

const EVERY_SOURCE = compileRulesForTypes();

function compileRulesForTypes() {
  return compileRules(
    [
      { lane: 'q', matches: [{ queryParams: [{ name: 'k', value: 'v' }] }] },
      { lane: 'c', matches: [{ cookies: [{ name: 'k', value: 'v' }] }] },
      { lane: 'h', matches: [{ headers: [{ name: 'x-h', type: 'RegularExpression', value: 'v.*' }] }] },
      { lane: 'm', matches: [{ method: 'PUT', path: { type: 'Prefix', value: '/m' } }] },
      { lane: 's', weight: 50, sticky: { header: 'x-user' } },
      { lane: 'a', matches: [{ headers: [{ name: 'x-absent', type: 'Absent' }] }] },
    ],
    { random: () => 0.99 },
  );
}

test('fields of the wrong type are ignored and counted, never thrown on', () => {
  const rules = EVERY_SOURCE;
  const throwing = Object.defineProperty({}, 'x-h', {
    enumerable: true,
    get() {
      throw new Error('getter');
    },
  });
  const requests: unknown[] = [
    { path: '/', query: null },
    { path: '/', cookies: null },
    { path: '/', query: 42 },
    { path: '/', cookies: 'k=v' },
    { path: '/', query: { get: () => 42 } },
    { path: '/', query: { get: () => ({ toString: null }) } },
    { path: '/', query: { k: { toString: null } } },
    { path: '/', cookies: { k: 7 } },
    { path: '/', headers: 'x-h: v' },
    { path: '/', headers: 42 },
    { path: '/', headers: { 'x-h': [Object.create(null)] } },
    { path: '/', headers: { 'x-h': [1, 2] } },
    { path: '/', headers: { 'x-h': { toString: null } } },
    { path: '/', headers: { 'x-h': Symbol('v') } },
    { path: '/', headers: { cookie: [Object.create(null)] } },
    { path: '/', headers: { 'x-user': [Symbol('u')] } },
    { path: '/', headers: { get: () => Symbol('v') } },
    { path: '/', headers: { get: () => 42 } },
    { path: Symbol('p'), method: { toString: null } },
    { path: '/', headers: throwing },
    {
      path: '/',
      headers: new Proxy(
        {},
        {
          get: () => {
            throw new Error('proxy');
          },
        },
      ),
    },
    { url: null, path: null, originalUrl: Symbol('u') },
  ];
  let invalid = rules.counters().invalidInputs;
  for (const [i, request] of requests.entries()) {
    const label = `requests[${i}]`;
    assert.doesNotThrow(() => rules.decide(request as EdgeRequest), label);
    const now = rules.counters().invalidInputs;
    assert.ok(now > invalid, `counted: ${label}`);
    invalid = now;
  }
  // The valid rest of a request still decides: only the bad field is ignored.
  assert.equal(rules.decide({ path: '/?k=v', cookies: null } as unknown as EdgeRequest).lane, 'q');
  assert.equal(
    rules.decide({ path: '/', query: null, headers: { cookie: 'k=v' } } as unknown as EdgeRequest).lane,
    'c',
  );
  assert.equal(rules.decide({ path: '/', headers: { 'x-h': ['v1'] } }).lane, 'h');
});

test('a request record with thousands of header keys is enumerated once per decide, whatever the rules read', () => {
  const rules = compileRules([
    ...Array.from({ length: 20 }, (_, i) => ({
      lane: 'gray',
      matches: [{ headers: [{ name: `x-h${i}`, value: 'v' }] }],
    })),
    { lane: 'gray', weight: 50, sticky: { header: 'x-user' } },
    { lane: 'gray', matches: [{ cookies: [{ name: 'c', value: 'v' }] }] },
  ]);
  const record: Record<string, string> = {};
  for (let i = 0; i < 10_000; i++) record[`X-Key-${i}`] = 'v';
  record['X-H19'] = 'v';
  let enumerations = 0;
  const headers = new Proxy(record, {
    ownKeys(target) {
      enumerations++;
      return Reflect.ownKeys(target);
    },
  });
  assert.equal(rules.decide({ path: '/', headers }).lane, 'gray', 'a mixed-case key is found');
  assert.equal(enumerations, 1, 'one pass over the keys, not one per header name read');
});
