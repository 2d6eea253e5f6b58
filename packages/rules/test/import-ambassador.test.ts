import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileRules,
  type EdgeRequest,
  InvalidImportError,
  rulesFromAmbassadorMappings,
} from '@graylane/rules';
import { assertTypedError } from '../../../test/helpers/typed-error';

const mapping = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'getambassador.io/v3alpha1',
  kind: 'Mapping',
  metadata: { name },
  spec: { hostname: '*', ...spec },
});

const stable = mapping('app', { prefix: '/app/', service: 'app' });
const canary = (weight: number) => mapping('app-v2', { prefix: '/app/', service: 'app-v2', weight });
const byCookie = mapping('app-v2-cookie', {
  prefix: '/app/',
  service: 'app-v2',
  headers: { Cookie: 'UM_distinctid=12345' },
});
const laneOf = { 'app-v2': 'gray' };

function shares(mappings: object[], request: EdgeRequest, n = 1000): Map<string | undefined, number> {
  let i = 0;
  const rules = compileRules(rulesFromAmbassadorMappings(mappings, { laneOf }), {
    random: () => (i++ % 100) / 100,
  });
  const out = new Map<string | undefined, number>();
  for (let k = 0; k < n; k++) {
    const lane = rules.decide(request).lane;
    out.set(lane, (out.get(lane) ?? 0) + 1);
  }
  return out;
}

test('80/20 between two Mappings of a prefix, and a Cookie header Mapping that wins over both', () => {
  const all = [stable, canary(20), byCookie];
  const plain = shares(all, { path: '/app/x', headers: {} });
  assert.equal(plain.get('gray'), 200);
  assert.equal(plain.get(undefined), 800);
  const cookie = shares(all, { path: '/app/x', headers: { cookie: 'UM_distinctid=12345' } });
  assert.equal(cookie.get('gray'), 1000, 'the header mapping is more constrained: evaluated first');
  const otherCookie = shares(all, { path: '/app/x', headers: { cookie: 'UM_distinctid=12345; x=1' } });
  assert.equal(otherCookie.get('gray'), 200, 'headers match the exact value');
  assert.equal(
    shares(all, { path: '/other', headers: {} }).get(undefined),
    1000,
    'another prefix: no mapping',
  );
  // The order the Mappings are given in does not matter.
  assert.equal(shares([byCookie, canary(20), stable], { path: '/app/x', headers: {} }).get('gray'), 200);
});

test('the switch: header Mapping removed -> 50/50; old Mapping deleted -> 100% new', () => {
  const half = shares([stable, canary(50)], { path: '/app/', headers: { cookie: 'UM_distinctid=12345' } });
  assert.equal(half.get('gray'), 500);
  const all = shares([canary(50)], { path: '/app/', headers: {} });
  assert.equal(all.get('gray'), 1000, 'a single mapping receives 100% whatever its weight');
});

test('weightless mappings split what the weighted ones leave (Emissary rounding)', () => {
  const a = mapping('a', { prefix: '/p/', service: 'a' });
  const b = mapping('b', { prefix: '/p/', service: 'b' });
  const c = mapping('c', { prefix: '/p/', service: 'c', weight: 40 });
  const laneOfService = { a: 'lane-a', b: 'lane-b', c: 'lane-c' };
  // Several draws per request: use an independent (seeded) source, and a tolerance.
  let s = 12345;
  const random = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) / 16777216;
  };
  const rules = compileRules(rulesFromAmbassadorMappings([a, b, c], { laneOf: laneOfService }), { random });
  const counts = new Map<string | undefined, number>();
  const n = 20_000;
  for (let k = 0; k < n; k++) {
    const lane = rules.decide({ path: '/p/' }).lane;
    counts.set(lane, (counts.get(lane) ?? 0) + 1);
  }
  for (const [lane, expected] of [
    ['lane-c', 0.4],
    ['lane-a', 0.3],
    ['lane-b', 0.3],
  ] as const) {
    const got = counts.get(lane)! / n;
    assert.ok(Math.abs(got - expected) < 0.015, `${lane}: ${got}`);
  }
  assert.deepEqual(
    rulesFromAmbassadorMappings([a, b, c], { laneOf: laneOfService }).map((r) => [r.lane, r.weight]),
    [
      ['lane-c', 40],
      ['lane-a', 50],
      ['lane-b', undefined],
    ],
    'weighted first, then the weightless ones: 40, then 30 of the remaining 60, then the rest',
  );
  // Weighted-only groups are scaled to 100%.
  const scaled = shares(
    [
      mapping('x', { prefix: '/q/', service: 'app-v2', weight: 10 }),
      mapping('y', { prefix: '/q/', service: 'app', weight: 30 }),
    ],
    {
      path: '/q/',
    },
  );
  assert.equal(scaled.get('gray'), 250);
  assert.equal(scaled.get(undefined), 750);
});

test('evaluation order: precedence, then prefix length, then header constraints', () => {
  const longer = mapping('long', { prefix: '/app/v2/', service: 'app-v2' });
  assert.equal(shares([stable, longer], { path: '/app/v2/x' }).get('gray'), 1000, 'the longer prefix first');
  assert.equal(shares([stable, longer], { path: '/app/v1' }).get(undefined), 1000);
  const oneHeader = mapping('one', { prefix: '/app/', service: 'app', headers: { 'x-a': '1' } });
  const twoHeaders = mapping('two', {
    prefix: '/app/',
    service: 'app-v2',
    headers: { 'x-a': '1', 'x-b': '2' },
  });
  assert.equal(
    shares([oneHeader, twoHeaders], { path: '/app/', headers: { 'x-a': '1', 'x-b': '2' } }).get('gray'),
    1000,
  );
  const forced = mapping('forced', { prefix: '/', service: 'app-v2', precedence: 10 });
  assert.equal(
    shares([twoHeaders, stable, forced], { path: '/app/' }).get('gray'),
    1000,
    'precedence beats everything',
  );
});

test('headers (value or presence), regex_headers (whole value), host, method, query parameters', () => {
  const check = (spec: Record<string, unknown>, request: EdgeRequest, expected: boolean) => {
    const rules = compileRules(
      rulesFromAmbassadorMappings([mapping('m', { prefix: '/', service: 'app-v2', ...spec })], { laneOf }),
    );
    assert.equal(
      rules.decide(request).lane,
      expected ? 'gray' : undefined,
      `${JSON.stringify(spec)} ${JSON.stringify(request)}`,
    );
  };
  check({ headers: { 'x-a': true } }, { path: '/', headers: { 'x-a': '' } }, true);
  check({ headers: { 'x-a': true } }, { path: '/', headers: {} }, false);
  check(
    { regex_headers: { 'user-agent': '.*(Android|iPhone).*' } },
    { path: '/', headers: { 'user-agent': 'Mozilla iPhone OS' } },
    true,
  );
  check({ regex_headers: { 'x-v': 'v[0-9]' } }, { path: '/', headers: { 'x-v': 'v12' } }, false);
  check({ host: 'shop.example.com' }, { path: '/', headers: { host: 'shop.example.com' } }, true);
  check(
    { host: '^shop[0-9]\\.example\\.com$', host_regex: true },
    { path: '/', headers: { host: 'shop2.example.com' } },
    true,
  );
  check({ hostname: '*.example.com' }, { path: '/', headers: { host: 'a.example.com:8080' } }, true);
  check({ hostname: '*.example.com' }, { path: '/', headers: { host: 'example.org' } }, false);
  check({ method: 'POST' }, { method: 'POST', path: '/' }, true);
  check({ method: 'POST' }, { method: 'GET', path: '/' }, false);
  check({ query_parameters: { debug: true } }, { path: '/?debug' }, true);
  check({ regex_query_parameters: { id: '[0-9]+' } }, { path: '/?id=12' }, true);
  check({ prefix: '/App/', case_sensitive: false }, { path: '/app/x' }, true);
  check({ prefix: '/api/v[0-9]+/.*', prefix_regex: true }, { path: '/api/v2/x' }, true);
  check({ prefix: '/exact', prefix_exact: true }, { path: '/exact/more' }, false);
});

test('shadow Mappings are skipped; laneOf may be a function', () => {
  const shadow = mapping('shadow', { prefix: '/app/', service: 'app-v2', shadow: true });
  assert.equal(shares([stable, shadow], { path: '/app/' }).get(undefined), 1000);
  const rules = rulesFromAmbassadorMappings([stable, canary(20)], {
    laneOf: (m) => (m.name === 'app-v2' ? 'gray' : null),
  });
  assert.deepEqual(
    rules.map((r) => [r.lane, r.weight]),
    [
      ['gray', 20],
      [undefined, undefined],
    ],
  );
});

function bad(mappings: object[], path: string, message?: RegExp): void {
  assertTypedError(() => rulesFromAmbassadorMappings(mappings, { laneOf }), InvalidImportError, {
    code: 'GL_ERR_INVALID_IMPORT',
    path,
    message,
  });
}

test('bad Mappings fail at load naming the field', () => {
  bad(
    [stable, canary(60), mapping('c2', { prefix: '/app/', service: 'x', weight: 50 })],
    'mappings[0]',
    /over 100/,
  );
  bad([canary(150)], 'mappings[0].spec.weight');
  bad([canary(12.5)], 'mappings[0].spec.weight');
  bad([mapping('x', { service: 'x' })], 'mappings[0].spec.prefix');
  bad(
    [mapping('x', { prefix: '/', regex_headers: { a: '(?=x)' } })],
    'mappings[0].spec.regex_headers.a',
    /RE2/,
  );
  bad([mapping('x', { prefix: '/', headers: { a: 5 } })], 'mappings[0].spec.headers.a');
  bad([mapping('x', { prefix: '/', host_redirect: true })], 'mappings[0].spec.host_redirect');
  bad([{ kind: 'Host', spec: { hostname: 'x' } }], 'mappings[0].kind');
  assert.throws(
    () => rulesFromAmbassadorMappings([canary(10)], { laneOf: { 'app-v2': 'Bad Lane' } }),
    (err: unknown) => err instanceof InvalidImportError && err.path === 'options.laneOf["app-v2"]',
  );
});
