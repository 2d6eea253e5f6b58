import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidOptionError } from '@graylane/core';
import {
  type CompiledRules,
  compileRules,
  type EdgeRequest,
  InvalidRuleError,
  NO_DECISION,
  type Rule,
} from '@graylane/rules';
import { hideModule } from '../../../test/helpers/hidden-module';
import { seeded } from '../../../test/helpers/random';
import { assertTypedError } from '../../../test/helpers/typed-error';

function laneOf(rules: CompiledRules, request: EdgeRequest): string | undefined {
  return rules.decide(request).lane;
}

test('each condition type on headers: Exact, Prefix, RegularExpression, Present, Absent', () => {
  const rules = compileRules([
    { lane: 'exact', matches: [{ headers: [{ name: 'x-a', type: 'Exact', value: 'v' }] }] },
    { lane: 'prefix', matches: [{ headers: [{ name: 'x-b', type: 'Prefix', value: 'pre' }] }] },
    { lane: 'regex', matches: [{ headers: [{ name: 'x-c', type: 'RegularExpression', value: 'a[0-9]+' }] }] },
    { lane: 'present', matches: [{ headers: [{ name: 'x-d', type: 'Present' }] }] },
    { lane: 'absent', matches: [{ headers: [{ name: 'x-e', type: 'Absent' }] }] },
  ]);
  const e = { 'x-e': '1' };
  assert.equal(laneOf(rules, { headers: { 'x-a': 'v', ...e } }), 'exact');
  assert.equal(laneOf(rules, { headers: { 'x-a': 'V', ...e } }), undefined, 'values are case-sensitive');
  assert.equal(laneOf(rules, { headers: { 'x-a': 'v ', ...e } }), undefined);
  assert.equal(laneOf(rules, { headers: { 'x-b': 'prefix', ...e } }), 'prefix');
  assert.equal(laneOf(rules, { headers: { 'x-b': 'xpre', ...e } }), undefined);
  assert.equal(laneOf(rules, { headers: { 'x-c': 'a123', ...e } }), 'regex');
  assert.equal(laneOf(rules, { headers: { 'x-d': '', ...e } }), 'present', 'an empty value is present');
  assert.equal(laneOf(rules, { headers: {} }), 'absent');
  assert.equal(laneOf(rules, { headers: e }), undefined);
});

test('regular expressions match the whole value, in RE2 syntax', () => {
  const rules = compileRules([
    { lane: 'gray', matches: [{ headers: [{ name: 'x-v', type: 'RegularExpression', value: 'ab|abc' }] }] },
  ]);
  assert.equal(laneOf(rules, { headers: { 'x-v': 'ab' } }), 'gray');
  assert.equal(
    laneOf(rules, { headers: { 'x-v': 'abc' } }),
    'gray',
    'alternation is tried against the whole value',
  );
  assert.equal(
    laneOf(rules, { headers: { 'x-v': 'xab' } }),
    undefined,
    'a match inside the value is not a match',
  );
  assert.equal(laneOf(rules, { headers: { 'x-v': 'abx' } }), undefined);
  assert.equal(laneOf(rules, { headers: { 'x-v': 'abcd' } }), undefined);
  const re2 = compileRules([
    {
      lane: 'gray',
      matches: [{ headers: [{ name: 'x-v', type: 'RegularExpression', value: '(?i)(?P<v>v)\\pN+' }] }],
    },
  ]);
  assert.equal(
    laneOf(re2, { headers: { 'x-v': 'V12' } }),
    'gray',
    'RE2 flags, named groups and classes work',
  );
});

test('header names are case-insensitive; query and cookie names are not', () => {
  const rules = compileRules([
    { lane: 'h', matches: [{ headers: [{ name: 'User-Agent', value: 'foo' }] }] },
    { lane: 'q', matches: [{ queryParams: [{ name: 'Env', value: 'qa' }] }] },
    { lane: 'c', matches: [{ cookies: [{ name: 'Tag', value: 'gray' }] }] },
  ]);
  assert.equal(laneOf(rules, { headers: { 'user-agent': 'foo' } }), 'h');
  assert.equal(laneOf(rules, { headers: { 'USER-AGENT': 'foo' } }), 'h', 'plain records may use any case');
  assert.equal(laneOf(rules, { headers: new Headers({ 'User-Agent': 'foo' }) }), 'h', 'WHATWG Headers work');
  assert.equal(laneOf(rules, { path: '/?Env=qa' }), 'q');
  assert.equal(laneOf(rules, { path: '/?env=qa' }), undefined);
  assert.equal(laneOf(rules, { headers: { cookie: 'Tag=gray' } }), 'c');
  assert.equal(laneOf(rules, { headers: { cookie: 'tag=gray' } }), undefined);
});

test('method and path conditions; the path excludes the query string', () => {
  const rules = compileRules([
    { lane: 'a', matches: [{ method: 'POST', path: '/orders' }] },
    { lane: 'b', matches: [{ path: { type: 'Prefix', value: '/api/' } }] },
    { lane: 'c', matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]+/.*' } }] },
    { lane: 'd', matches: [{ method: { type: 'RegularExpression', value: 'PUT|PATCH' } }] },
  ]);
  assert.equal(laneOf(rules, { method: 'POST', path: '/orders?x=1' }), 'a');
  assert.equal(laneOf(rules, { method: 'post', path: '/orders' }), undefined, 'methods are case-sensitive');
  assert.equal(laneOf(rules, { method: 'GET', path: '/orders' }), undefined);
  assert.equal(laneOf(rules, { method: 'GET', path: '/api/x' }), 'b');
  assert.equal(laneOf(rules, { method: 'GET', path: '/v2/users' }), 'c');
  assert.equal(laneOf(rules, { method: 'PATCH', path: '/' }), 'd');
  // An IncomingMessage-shaped request: the path comes from url (originalUrl when Express set it).
  const message = { method: 'GET', url: '/api/items?x=1', headers: {} };
  assert.equal(rules.decide(message as never).lane, 'b');
  const mounted = { method: 'GET', url: '/items', originalUrl: '/api/items', headers: {} };
  assert.equal(rules.decide(mounted as never).lane, 'b', 'originalUrl wins over a mount-relative url');
  const absolute = { method: 'GET', url: 'http://example.com/api/items?x', headers: {} };
  assert.equal(rules.decide(absolute as never).lane, 'b', 'absolute-form targets lose scheme and authority');
});

test('query parameters: decoded like URLSearchParams, first value wins, ?key is empty', () => {
  const rules = compileRules([
    { lane: 'a', matches: [{ queryParams: [{ name: 'user name', value: 'a b+c' }] }] },
    { lane: 'b', matches: [{ queryParams: [{ name: 'flag', value: '' }] }] },
    { lane: 'c', matches: [{ queryParams: [{ name: 'v', value: '1' }] }] },
    { lane: 'd', matches: [{ queryParams: [{ name: 'given', type: 'Present' }] }] },
  ]);
  assert.equal(laneOf(rules, { path: '/?user+name=a%20b%2Bc' }), 'a');
  assert.equal(laneOf(rules, { path: '/?flag' }), 'b');
  assert.equal(laneOf(rules, { path: '/?v=1&v=2' }), 'c');
  assert.equal(laneOf(rules, { path: '/?v=2&v=1' }), undefined, 'the first value counts');
  assert.equal(laneOf(rules, { path: '/', query: { given: '' } }), 'd', 'a query record may be given');
  assert.equal(laneOf(rules, { path: '/', query: new URLSearchParams('v=1') }), 'c', 'URLSearchParams too');
  assert.equal(laneOf(rules, { path: '/', query: { v: ['1', '2'] } }), 'c');
});

test('cookies: parsed from the Cookie header, values raw, first wins; a cookies record may be given', () => {
  const rules = compileRules([
    { lane: 'a', matches: [{ cookies: [{ name: 'uid', value: '"42"' }] }] },
    { lane: 'b', matches: [{ cookies: [{ name: 'x', value: '1' }] }] },
    { lane: 'c', matches: [{ cookies: [{ name: 'enc', value: 'a%20b' }] }] },
  ]);
  assert.equal(laneOf(rules, { headers: { cookie: 'a=1; uid="42"' } }), 'a');
  assert.equal(laneOf(rules, { headers: { cookie: 'x=1; x=2' } }), 'b');
  assert.equal(laneOf(rules, { headers: { cookie: 'x=2; x=1' } }), undefined);
  assert.equal(laneOf(rules, { headers: { cookie: 'enc=a%20b' } }), 'c', 'no percent-decoding');
  assert.equal(
    laneOf(rules, { headers: { cookie: ['x=1', 'y=2'] } }),
    'b',
    'repeated cookie headers are joined',
  );
  assert.equal(laneOf(rules, { cookies: { x: '1' } }), 'b');
});

test('matches are an OR of ANDs; an empty match list matches everything', () => {
  const rules = compileRules([
    {
      lane: 'gray',
      matches: [
        {
          headers: [
            { name: 'x-a', value: '1' },
            { name: 'x-b', value: '2' },
          ],
        },
        { queryParams: [{ name: 'gray', value: 'yes' }] },
      ],
    },
    { lane: 'all', matches: [] },
  ]);
  assert.equal(laneOf(rules, { headers: { 'x-a': '1', 'x-b': '2' } }), 'gray');
  assert.equal(laneOf(rules, { headers: { 'x-a': '1' } }), 'all', 'one condition of an AND is not enough');
  assert.equal(laneOf(rules, { path: '/?gray=yes' }), 'gray');
  assert.equal(laneOf(rules, {}), 'all');
});

test('first match wins; a base-lane rule stops the search; decisions are shared frozen objects', () => {
  const rules = compileRules([
    { name: 'keep-stable', matches: [{ headers: [{ name: 'x-stable', type: 'Present' }] }] },
    {
      lane: 'first',
      name: 'one',
      matches: [{ headers: [{ name: 'x-a', type: 'Present' }] }],
      setHeaders: { 'X-Set': 'v' },
    },
    { lane: 'second', matches: [{ headers: [{ name: 'x-a', type: 'Present' }] }] },
  ]);
  const d = rules.decide({ headers: { 'x-a': '1' } });
  assert.deepEqual(d, { lane: 'first', rule: 1, name: 'one', setHeaders: { 'x-set': 'v' } });
  assert.ok(Object.isFrozen(d) && Object.isFrozen(d.setHeaders));
  assert.equal(rules.decide({ headers: { 'x-a': '2' } }), d, 'the same object every time');
  const base = rules.decide({ headers: { 'x-a': '1', 'x-stable': '' } });
  assert.equal(base.lane, undefined);
  assert.equal(base.rule, 0, 'the base-lane rule decided');
  const none = rules.decide({ headers: {} });
  assert.equal(none, NO_DECISION);
  assert.ok(Object.isFrozen(NO_DECISION));
  assert.deepEqual(rules.counters().byRule, [1, 2, 0]);
  assert.equal(rules.counters().noMatch, 1);
});

test('inverted conditions hold when the comparison does not; a missing value matches nothing, inverted or not (Envoy)', () => {
  const rules = compileRules([
    {
      lane: 'gray',
      matches: [
        { headers: [{ name: 'x-env', value: 'prod', invert: true }], path: { value: '/a', invert: true } },
      ],
    },
  ]);
  assert.equal(laneOf(rules, { path: '/b', headers: { 'x-env': 'qa' } }), 'gray');
  assert.equal(laneOf(rules, { path: '/b', headers: {} }), undefined);
  assert.equal(laneOf(rules, { path: '/b', headers: { 'x-env': 'prod' } }), undefined);
  assert.equal(laneOf(rules, { path: '/a', headers: {} }), undefined);
});

test('weight 0 never and weight 100 always match, without drawing', () => {
  let draws = 0;
  const random = () => {
    draws++;
    return 0;
  };
  const rules = compileRules(
    [
      { lane: 'zero', weight: 0 },
      { lane: 'all', weight: 100 },
    ],
    { random },
  );
  for (let i = 0; i < 1000; i++) assert.equal(laneOf(rules, {}), 'all');
  assert.equal(draws, 0);
  const edge = compileRules([{ lane: 'w', weight: 100 }], { random: () => 0.999999999 });
  assert.equal(laneOf(edge, {}), 'w');
});

test('a weight takes that share of the matching traffic; the rest goes on to the next rule', () => {
  const rules = compileRules([{ lane: 'gray', weight: 12.5 }, { lane: 'rest' }], { random: seeded(7) });
  let gray = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) if (laneOf(rules, {}) === 'gray') gray++;
  assert.ok(Math.abs(gray / n - 0.125) < 0.01, `share ${gray / n}`);
  assert.equal(rules.counters().byRule[1], n - gray, 'the rest reached the next rule');
  // The draw is `random() * 100 < weight`.
  assert.equal(laneOf(compileRules([{ lane: 'g', weight: 30 }], { random: () => 0.2999 }), {}), 'g');
  assert.equal(laneOf(compileRules([{ lane: 'g', weight: 30 }], { random: () => 0.3 }), {}), undefined);
});

test('sticky weights: the same key always gets the same answer; over 100,000 keys the share is within 1%', () => {
  for (const [weight, sticky, place] of [
    [20, { header: 'x-user-id' }, (k: string): EdgeRequest => ({ headers: { 'x-user-id': k } })],
    [50, { cookie: 'uid' }, (k: string): EdgeRequest => ({ headers: { cookie: `a=b; uid=${k}` } })],
    [7.5, { query: 'u' }, (k: string): EdgeRequest => ({ path: `/?u=${k}` })],
  ] as const) {
    const rules = compileRules([{ lane: 'gray', weight, sticky }], { random: () => Number.NaN });
    let inLane = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) if (laneOf(rules, place(`user-${i}`)) === 'gray') inLane++;
    assert.ok(
      Math.abs((inLane / n) * 100 - weight) < 1,
      `${JSON.stringify(sticky)}: ${(inLane / n) * 100}% for ${weight}%`,
    );
    for (let i = 0; i < 200; i++) {
      const key = `user-${i * 7919}`;
      const first = laneOf(rules, place(key));
      for (let j = 0; j < 5; j++) assert.equal(laneOf(rules, place(key)), first, key);
    }
  }
});

test('sticky weights grow monotonically and are stable across compilations', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `u${i}`);
  const at = (w: number) => {
    const rules = compileRules([{ lane: 'gray', weight: w, sticky: { header: 'uid' } }]);
    return new Set(keys.filter((k) => laneOf(rules, { headers: { uid: k } }) === 'gray'));
  };
  const twenty = at(20);
  const fifty = at(50);
  for (const k of twenty) assert.ok(fifty.has(k), `${k} left the lane when the weight grew`);
  assert.deepEqual(at(20), twenty, 'a recompiled rule set puts every key in the same place');
  // A different salt decorrelates.
  const salted = compileRules([{ lane: 'gray', weight: 20, sticky: { header: 'uid', salt: 'other' } }]);
  const overlap = keys.filter(
    (k) => twenty.has(k) && laneOf(salted, { headers: { uid: k } }) === 'gray',
  ).length;
  assert.ok(overlap < twenty.size * 0.5, `salted overlap ${overlap}`);
});

test('a sticky rule draws at random when the key is missing', () => {
  const rules = compileRules([{ lane: 'gray', weight: 50, sticky: { header: 'uid' } }], {
    random: () => 0.1,
  });
  assert.equal(laneOf(rules, { headers: {} }), 'gray');
  const never = compileRules([{ lane: 'gray', weight: 50, sticky: { header: 'uid' } }], {
    random: () => 0.9,
  });
  assert.equal(laneOf(never, { headers: {} }), undefined);
});

test('cookies and the query string are parsed only when a rule reads them', () => {
  const rules = compileRules([{ lane: 'gray', matches: [{ headers: [{ name: 'x-a', type: 'Present' }] }] }]);
  rules.decide({ path: '/?bad=%zz', headers: { cookie: 'garbage; =; x' } });
  assert.equal(rules.counters().malformedInputs, 0, 'nothing was parsed');
  const reading = compileRules([
    { lane: 'q', matches: [{ queryParams: [{ name: 'a', type: 'Present' }] }] },
    { lane: 'c', matches: [{ cookies: [{ name: 'a', type: 'Present' }] }] },
  ]);
  reading.decide({ path: '/?bad=%zz', headers: { cookie: 'garbage; =; a' } });
  assert.equal(reading.counters().malformedInputs, 4);
});

test('bad requests never throw: huge headers, malformed cookies, bad percent-encoding, odd shapes', () => {
  const rules = compileRules([
    { lane: 'r', matches: [{ headers: [{ name: 'x-big', type: 'RegularExpression', value: '(a+)+b' }] }] },
    { lane: 'q', matches: [{ queryParams: [{ name: 'k', value: 'v' }] }] },
    { lane: 'c', matches: [{ cookies: [{ name: 'k', value: 'v' }] }] },
    { lane: 's', weight: 50, sticky: { header: 'x-big' } },
    { lane: 'p', matches: [{ path: { type: 'RegularExpression', value: '/.*' } }] },
  ]);
  const huge = 'a'.repeat(1 << 20);
  const requests: unknown[] = [
    { headers: { 'x-big': huge } },
    { headers: { 'x-big': `${'a'.repeat(8192)}b` } },
    { path: `/?${'k=%E0%A4%A&'.repeat(10)}k=%zz`, headers: {} },
    { path: `/?${'x'.repeat(100_000)}` },
    { headers: { cookie: `;;;=;k;${'=;'.repeat(1000)}` } },
    { headers: { cookie: huge } },
    { headers: { 'x-big': ['a', 'b'], cookie: 42 } },
    {},
    { headers: null },
    { path: 42, method: 7, headers: { 'x-big': undefined } },
    { url: '', headers: {} },
    { url: 'http://', headers: {} },
    { url: '/?a=%', originalUrl: 42, headers: {} },
  ];
  for (const request of [...requests, null, undefined, 'GET /']) {
    assert.doesNotThrow(
      () => rules.decide(request as EdgeRequest),
      String(JSON.stringify(request)).slice(0, 80),
    );
  }
  assert.ok(rules.counters().oversizeInputs >= 3, 'oversized inputs are counted');
  assert.ok(rules.counters().malformedInputs >= 1, 'malformed pieces are counted');
  // An oversized value never reaches the regex: treated as no match.
  const strict = compileRules(
    [{ lane: 'r', matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: 'a*' }] }] }],
    {
      maxInputLength: 16,
    },
  );
  assert.equal(laneOf(strict, { headers: { x: 'a'.repeat(16) } }), 'r');
  assert.equal(laneOf(strict, { headers: { x: 'a'.repeat(17) } }), undefined);
});

test('a pathological pattern runs in linear time (RE2 semantics, no backtracking)', () => {
  const rules = compileRules([
    { lane: 'r', matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: '(a|aa)*(a+)+c' }] }] },
  ]);
  // With a backtracking engine this input would not finish; here it is one linear pass per request.
  for (let i = 0; i < 20; i++)
    assert.equal(laneOf(rules, { headers: { x: `${'a'.repeat(8000)}b` } }), undefined);
});

function invalid(rules: unknown, path: string, pattern?: RegExp): void {
  assertTypedError(() => compileRules(rules as Rule[]), InvalidRuleError, {
    code: 'GL_ERR_INVALID_RULE',
    path,
    message: pattern,
  });
}

test('bad rules fail at load with GL_ERR_INVALID_RULE naming the field', () => {
  invalid('x', 'rules');
  invalid([null], 'rules[0]');
  // biome-ignore lint/suspicious/noSparseArray: a hole must fail at load, not on a request
  invalid([{ lane: 'a' }, , { lane: 'b' }], 'rules[1]');
  // biome-ignore lint/suspicious/noSparseArray: same for a hole among matches
  invalid([{ lane: 'a', matches: [{}, , {}] }], 'rules[0].matches[1]');
  invalid([{ lane: '-bad' }], 'rules[0].lane');
  invalid([{ lane: 'a', weigth: 5 }], 'rules[0].weigth', /unknown field/);
  invalid([{}, { lane: 'a', weight: 101 }], 'rules[1].weight');
  invalid([{ lane: 'a', weight: -1 }], 'rules[0].weight');
  invalid([{ lane: 'a', weight: Number.NaN }], 'rules[0].weight');
  invalid([{ lane: 'a', weight: '50' }], 'rules[0].weight');
  invalid([{ matches: {} }], 'rules[0].matches');
  invalid([{ matches: [{ header: [] }] }], 'rules[0].matches[0].header', /unknown field/);
  invalid(
    [
      {},
      {},
      {
        matches: [
          {
            headers: [
              { name: 'a', value: 'b' },
              { name: 'x', type: 'Regex', value: 'a' },
            ],
          },
        ],
      },
    ],
    'rules[2].matches[0].headers[1].type',
    /unknown condition type "Regex"/,
  );
  invalid(
    [{ matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: '(a' }] }] }],
    'rules[0].matches[0].headers[0].value',
    /RE2/,
  );
  invalid(
    [{ matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: '(?=a)b' }] }] }],
    'rules[0].matches[0].headers[0].value',
  );
  invalid(
    [{ matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: '(a)\\1' }] }] }],
    'rules[0].matches[0].headers[0].value',
  );
  invalid(
    [{ matches: [{ headers: [{ name: 'bad name', value: 'a' }] }] }],
    'rules[0].matches[0].headers[0].name',
  );
  invalid([{ matches: [{ headers: [{ name: 'x' }] }] }], 'rules[0].matches[0].headers[0].value');
  invalid(
    [{ matches: [{ headers: [{ name: 'x', type: 'Present', value: 'a' }] }] }],
    'rules[0].matches[0].headers[0].value',
  );
  invalid([{ matches: [{ cookies: [{ name: '', value: 'a' }] }] }], 'rules[0].matches[0].cookies[0].name');
  invalid([{ matches: [{ method: { type: 'Present' } }] }], 'rules[0].matches[0].method.type');
  invalid([{ matches: [{ path: 5 }] }], 'rules[0].matches[0].path');
  invalid(
    [{ matches: [{ headers: [{ name: 'x', value: 'a', invert: 'yes' }] }] }],
    'rules[0].matches[0].headers[0].invert',
  );
  invalid([{ lane: 'a', weight: 5, sticky: { header: 'a', cookie: 'b' } }], 'rules[0].sticky.cookie');
  invalid([{ lane: 'a', weight: 5, sticky: {} }], 'rules[0].sticky');
  invalid([{ lane: 'a', setHeaders: { 'x-a': 'line\r\nbreak' } }], 'rules[0].setHeaders.x-a');
  invalid([{ lane: 'a', setHeaders: { 'x a': 'v' } }], 'rules[0].setHeaders.x a');
  invalid([{ lane: 'a', removeHeaders: ['ok', ''] }], 'rules[0].removeHeaders[1]');
  assert.throws(() => compileRules([], { maxInputLength: 0 }), InvalidOptionError);
  assert.throws(() => compileRules([], { random: 1 as never }), InvalidOptionError);
});

test('the rule set exposes its rules and size for diagnostics', () => {
  const input: Rule[] = [{ lane: 'a' }, { lane: 'b', weight: 5 }];
  const rules = compileRules(input);
  assert.equal(rules.size, 2);
  assert.deepEqual(rules.rules, input);
  assert.ok(Object.isFrozen(rules.rules));
});

test('without re2js installed, a RegularExpression rule fails at load with GL_ERR_MISSING_PEER; other rules work', () => {
  const script = `
    ${hideModule('re2js')}
    const { compileRules } = require('@graylane/rules');
    const plain = compileRules([{ lane: 'gray', matches: [{ headers: [{ name: 'x', value: '1' }] }] }]);
    let code = 'none';
    try {
      compileRules([{ lane: 'gray', matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: 'a.*' }] }] }]);
    } catch (err) {
      code = err.code;
    }
    process.stdout.write(JSON.stringify({ lane: plain.decide({ headers: { x: '1' } }).lane, code }));
  `;
  const out = spawnSync(process.execPath, ['-e', script], { cwd: join(__dirname, '..'), encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { lane: 'gray', code: 'GL_ERR_MISSING_PEER' });
});

test('many exact-value rules (indexed) keep first-match order and OR/inverted/missing cases', () => {
  const rules = compileRules([
    { lane: 'a', matches: [{ headers: [{ name: 'x-user', value: 'u1' }] }] },
    {
      lane: 'b',
      matches: [
        {
          headers: [
            { name: 'X-User', value: 'u2' },
            { name: 'x-env', value: 'qa' },
          ],
        },
      ],
    },
    { lane: 'c', matches: [{ headers: [{ name: 'x-user', value: 'u2' }] }] },
    {
      lane: 'd',
      matches: [
        { headers: [{ name: 'x-user', value: 'u3' }] },
        { queryParams: [{ name: 'd', type: 'Present' }] },
      ],
    },
    {
      lane: 'e',
      matches: [
        {
          headers: [
            { name: 'x-user', value: 'u4', invert: true },
            { name: 'x-e', type: 'Present' },
          ],
        },
      ],
    },
    { lane: 'f', matches: [{ method: 'GET', headers: [{ name: 'x-user', value: 'u5' }] }] },
    { lane: 'g', matches: [{ headers: [{ name: 'x-user', value: 'u1' }] }] },
    { lane: 'h', matches: [{ headers: [{ name: 'x-team', value: 't1' }] }] },
  ]);
  const lane = (request: EdgeRequest) => rules.decide(request).lane;
  assert.equal(lane({ headers: { 'x-user': 'u1' } }), 'a', 'the first of two rules for the same value');
  assert.equal(lane({ headers: { 'x-user': 'u2', 'x-env': 'qa' } }), 'b');
  assert.equal(
    lane({ headers: { 'x-user': 'u2' } }),
    'c',
    'an indexed candidate that fails its other condition',
  );
  assert.equal(lane({ headers: { 'x-user': 'u3' } }), 'd');
  assert.equal(lane({ path: '/?d', headers: {} }), 'd', 'a rule with several matches is never skipped');
  assert.equal(lane({ headers: { 'x-user': 'zz', 'x-e': '' } }), 'e', 'an inverted condition is not indexed');
  assert.equal(lane({ method: 'GET', headers: { 'x-user': 'u5' } }), 'f');
  assert.equal(lane({ method: 'POST', headers: { 'x-user': 'u5' } }), undefined);
  assert.equal(lane({ headers: { 'x-team': 't1', 'x-user': 'nobody' } }), 'h');
  assert.equal(lane({ headers: {} }), undefined);
  assert.equal(lane({ headers: { 'X-USER': 'u3' } }), 'd', 'plain records: names found in any case');
});
