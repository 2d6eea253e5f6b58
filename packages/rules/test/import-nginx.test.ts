import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRules, type EdgeRequest, InvalidImportError, rulesFromNginxCanary } from '@graylane/rules';

const P = 'nginx.ingress.kubernetes.io';

function canary(annotations: Record<string, string>, random: () => number = () => 0.999) {
  const all = { [`${P}/canary`]: 'true', ...annotations };
  return compileRules(rulesFromNginxCanary(all, { lane: 'canary' }), { random });
}

function lane(rules: ReturnType<typeof canary>, headers: Record<string, string>): string | undefined {
  return rules.decide({ method: 'GET', path: '/', headers } as EdgeRequest).lane;
}

test('canary-by-header: always enters, never stays out without looking further, other values fall through', () => {
  const rules = canary({
    [`${P}/canary-by-header`]: 'X-Canary',
    [`${P}/canary-by-cookie`]: 'canary',
    [`${P}/canary-weight`]: '100',
  });
  assert.equal(lane(rules, { 'x-canary': 'always' }), 'canary');
  assert.equal(lane(rules, { 'x-canary': 'never' }), undefined, 'never beats weight 100');
  assert.equal(
    lane(rules, { 'x-canary': 'never', cookie: 'canary=always' }),
    undefined,
    'never beats the cookie',
  );
  assert.equal(
    lane(rules, { 'x-canary': 'Always' }),
    'canary',
    'another value falls through (to the weight here)',
  );
  assert.equal(
    lane(rules, { 'x-canary': 'other', cookie: 'canary=never' }),
    undefined,
    'falls through to the cookie',
  );
  assert.equal(lane(rules, {}), 'canary', 'no header: cookie, then weight 100');
});

test('precedence is header, then cookie, then weight', () => {
  const rules = canary({
    [`${P}/canary-by-header`]: 'x-canary',
    [`${P}/canary-by-cookie`]: 'canary',
    [`${P}/canary-weight`]: '0',
  });
  assert.equal(
    lane(rules, { 'x-canary': 'always', cookie: 'canary=never' }),
    'canary',
    'header before cookie',
  );
  assert.equal(
    lane(rules, { 'x-canary': 'never', cookie: 'canary=always' }),
    undefined,
    'header before cookie',
  );
  assert.equal(lane(rules, { cookie: 'canary=always' }), 'canary');
  assert.equal(lane(rules, { cookie: 'canary=never' }), undefined);
  assert.equal(
    lane(rules, { cookie: 'canary=yes' }),
    undefined,
    'other cookie values fall through to weight 0',
  );
  const weighted = canary({ [`${P}/canary-by-cookie`]: 'canary', [`${P}/canary-weight`]: '100' });
  assert.equal(lane(weighted, { cookie: 'canary=never' }), undefined, 'cookie never beats the weight');
  assert.equal(lane(weighted, { cookie: 'canary=x' }), 'canary');
});

test('canary-by-header-value: only that value enters; always/never lose their meaning', () => {
  const rules = canary({
    [`${P}/canary-by-header`]: 'foo',
    [`${P}/canary-by-header-value`]: 'bar',
    [`${P}/canary-by-cookie`]: 'c',
  });
  assert.equal(lane(rules, { foo: 'bar' }), 'canary');
  assert.equal(lane(rules, { foo: 'Bar' }), undefined);
  assert.equal(lane(rules, { foo: 'always' }), undefined);
  assert.equal(
    lane(rules, { foo: 'never', cookie: 'c=always' }),
    'canary',
    'never is an ordinary value: falls through',
  );
});

test('canary-by-header-pattern: a PCRE-style search; ignored when a header value is set', () => {
  const rules = canary({ [`${P}/canary-by-header`]: 'region', [`${P}/canary-by-header-pattern`]: 'cd|sz' });
  assert.equal(lane(rules, { region: 'cd' }), 'canary');
  assert.equal(lane(rules, { region: 'xx-sz-1' }), 'canary', 'ngx.re.match finds the pattern anywhere');
  assert.equal(lane(rules, { region: 'bj' }), undefined);
  assert.equal(lane(rules, { region: 'always' }), undefined, 'always is not special with a pattern');
  const anchored = canary({
    [`${P}/canary-by-header`]: 'x',
    [`${P}/canary-by-header-pattern`]: '^(true|yes)$',
  });
  assert.equal(lane(anchored, { x: 'yes' }), 'canary');
  assert.equal(lane(anchored, { x: 'yess' }), undefined);
  const both = canary({
    [`${P}/canary-by-header`]: 'x',
    [`${P}/canary-by-header-value`]: 'v',
    [`${P}/canary-by-header-pattern`]: '.*',
  });
  assert.equal(lane(both, { x: 'other' }), undefined, 'the pattern is ignored when a value is set');
  assert.equal(lane(both, { x: 'v' }), 'canary');
});

test('canary-weight is a share of canary-weight-total (default 100)', () => {
  let i = 0;
  const cycle = () => (i++ % 100) / 100; // 0.00 .. 0.99 evenly
  const thirty = canary({ [`${P}/canary-weight`]: '30' }, cycle);
  let n = 0;
  for (let k = 0; k < 1000; k++) if (lane(thirty, {}) === 'canary') n++;
  assert.equal(n, 300);
  const permille = canary({ [`${P}/canary-weight`]: '300', [`${P}/canary-weight-total`]: '1000' }, cycle);
  n = 0;
  for (let k = 0; k < 1000; k++) if (lane(permille, {}) === 'canary') n++;
  assert.equal(n, 300);
  assert.deepEqual(
    rulesFromNginxCanary({ [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '0' }, { lane: 'c' }),
    [],
  );
  const full = canary({ [`${P}/canary-weight`]: '100' }, () => 0.999999);
  assert.equal(lane(full, {}), 'canary');
});

test('the Ingress object, a custom prefix, and a non-canary Ingress', () => {
  const ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'demo-canary',
      annotations: { [`${P}/canary`]: 'true', [`${P}/canary-by-header`]: 'foo' },
    },
  };
  assert.equal(rulesFromNginxCanary(ingress, { lane: 'gray' }).length, 2);
  const custom = rulesFromNginxCanary(
    { 'my.io/canary': 'True', 'my.io/canary-weight': '10' },
    { lane: 'g', prefix: 'my.io' },
  );
  assert.deepEqual(custom, [{ lane: 'g', name: 'canary-weight', weight: 10 }]);
  assert.deepEqual(rulesFromNginxCanary({ 'kubernetes.io/ingress.class': 'nginx' }, { lane: 'g' }), []);
  const sticky = rulesFromNginxCanary(
    { [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '5' },
    { lane: 'g', sticky: { cookie: 'uid' } },
  );
  assert.deepEqual(sticky[0]!.sticky, { cookie: 'uid' });
});

function bad(
  annotations: Record<string, unknown>,
  key: string,
  message?: RegExp,
  options: object = { lane: 'gray' },
): void {
  assert.throws(
    () => rulesFromNginxCanary(annotations, options as never),
    (err: unknown) => {
      assert.ok(err instanceof InvalidImportError, String(err));
      assert.equal(err.code, 'GL_ERR_INVALID_IMPORT');
      assert.equal(err.source, 'ingress-nginx');
      assert.equal(err.path, key.startsWith('options') ? key : `annotations[${JSON.stringify(key)}]`);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

test('bad annotations fail at load with GL_ERR_INVALID_IMPORT naming the annotation', () => {
  const on = { [`${P}/canary`]: 'true' };
  bad({ [`${P}/canary-by-header`]: 'x' }, `${P}/canary`, /not "true"/);
  bad({ [`${P}/canary`]: 'false', [`${P}/canary-weight`]: '10' }, `${P}/canary`);
  bad({ [`${P}/canary`]: 'yes' }, `${P}/canary`);
  bad({ ...on, [`${P}/canary-weight`]: 'abc' }, `${P}/canary-weight`, /integer/);
  bad({ ...on, [`${P}/canary-weight`]: '12.5' }, `${P}/canary-weight`);
  bad({ ...on, [`${P}/canary-weight`]: '-1' }, `${P}/canary-weight`);
  bad({ ...on, [`${P}/canary-weight`]: '101' }, `${P}/canary-weight`);
  bad({ ...on, [`${P}/canary-weight`]: 30 }, `${P}/canary-weight`, /strings/);
  bad({ ...on, [`${P}/canary-weight-total`]: '50' }, `${P}/canary-weight-total`, /below the default 100/);
  bad({ ...on, [`${P}/canary-weight`]: '300', [`${P}/canary-weight-total`]: '200' }, `${P}/canary-weight`);
  bad(
    { ...on, [`${P}/canary-by-query`]: 'x' },
    `${P}/canary-by-query`,
    /not an ingress-nginx canary annotation/,
  );
  bad({ ...on, [`${P}/canary-by-header`]: 'bad header' }, `${P}/canary-by-header`);
  bad(
    { ...on, [`${P}/canary-by-header`]: 'x', [`${P}/canary-by-header-pattern`]: '(?<=a)b' },
    `${P}/canary-by-header-pattern`,
    /RE2/,
  );
  bad(on, 'options.lane', undefined, {});
  bad(on, 'options.lane', undefined, { lane: 'not a lane' });
});
