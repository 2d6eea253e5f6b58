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

// kubernetes/ingress-nginx internal/ingress/annotations/canary/main.go Parse returns
// NewInvalidAnnotationConfiguration("configured but not enabled") when canary is false and other
// canary annotations are set; internal/ingress/annotations/annotations.go Extract skips that
// error (it is neither a validation nor a location-denied error), so the Ingress is no canary.
test('ingress-nginx: canary "false" with other canary annotations means no canary rule, not an error', () => {
  const off = {
    [`${P}/canary`]: 'false',
    [`${P}/canary-by-header`]: 'x-canary',
    [`${P}/canary-weight`]: '100',
  };
  assert.deepEqual(rulesFromNginxCanary(off, { lane: 'canary' }), []);
  assert.deepEqual(rulesFromNginxCanary({ [`${P}/canary-weight`]: '100' }, { lane: 'canary' }), []);
  bad({ [`${P}/canary`]: 'yes', [`${P}/canary-weight`]: '10' }, `${P}/canary`);
});

// kubernetes/ingress-nginx rootfs/etc/nginx/lua/balancer.lua route_to_alternative_balancer:
// `util.replace_special_char(traffic_shaping_policy.header, "-", "_")` then
// `ngx.var["http_" .. target_header]`; nginx's $http_<name> is "the field name converted to lower
// case with dashes replaced by underscores" (nginx docs, ngx_http_core_module, Embedded Variables).
test('ingress-nginx: a canary-by-header name with underscores matches the request header with hyphens', () => {
  const rules = canary({ [`${P}/canary-by-header`]: 'X_Canary_Lane' });
  assert.equal(lane(rules, { 'x-canary-lane': 'always' }), 'canary');
  assert.equal(lane(rules, { 'X-Canary-Lane': 'always' }), 'canary');
  const hyphens = canary({ [`${P}/canary-by-header`]: 'x-canary', [`${P}/canary-by-header-value`]: 'yes' });
  assert.equal(lane(hyphens, { 'x-canary': 'yes' }), 'canary');
});

// A port of nginx's $cookie_<name> lookup (nginx/nginx src/http/ngx_http_parse.c,
// ngx_http_parse_multi_header_lines): the first pair whose name matches case-insensitively,
// separators ';' and ',', spaces skipped after a separator and around '=', value up to ';'.
function nginxCookie(header: string, name: string): string | undefined {
  let start = 0;
  const end = header.length;
  while (start < end) {
    if (header.slice(start, start + name.length).toLowerCase() === name.toLowerCase()) {
      let p = start + name.length;
      while (p < end && header[p] === ' ') p++;
      if (p < end && header[p] === '=') {
        p++;
        while (p < end && header[p] === ' ') p++;
        let last = p;
        while (last < end && header[last] !== ';') last++;
        return header.slice(p, last);
      }
      start = p;
    }
    while (start < end) {
      const ch = header[start++];
      if (ch === ';' || ch === ',') break;
    }
    while (start < end && header[start] === ' ') start++;
  }
  return undefined;
}

// kubernetes/ingress-nginx balancer.lua reads `ngx.var["cookie_" .. target_cookie]` ("always" ->
// canary, "never" -> mainline, else on to the weight); nginx finds it with
// ngx_http_parse_multi_header_lines (src/http/ngx_http_parse.c), ported above as the oracle.
test('ingress-nginx: canary-by-cookie finds the cookie as nginx does (name case-insensitive, first wins)', () => {
  const rules = canary({ [`${P}/canary-by-cookie`]: 'Canary', [`${P}/canary-weight`]: '100' }, () => 0.999);
  const cases = [
    'canary=always',
    'CANARY=always',
    'a=1; canary=always',
    'a=1,canary=always',
    'canary = always',
    'canary=never; canary=always',
    'Canary=never; canary=always',
    'xcanary=always',
    'canaryx=always',
    'canary=always ',
    'canary=always,b=2',
    'canary=always;b=2',
    'a=canary=always',
    ' canary=always',
    'a=1;  canary=always',
    'canar=1; canary=never',
    'canary x=1; canary=never',
    '',
  ];
  for (const cookie of cases) {
    const value = nginxCookie(cookie, 'Canary');
    // Weight 100 stands for "fell through": always -> canary, never -> base, else the weight.
    const expected = value === 'never' ? undefined : 'canary';
    assert.equal(lane(rules, { cookie }), expected, `${JSON.stringify(cookie)} (nginx: ${value})`);
    const noWeight = canary({ [`${P}/canary-by-cookie`]: 'Canary' });
    assert.equal(
      lane(noWeight, { cookie }),
      value === 'always' ? 'canary' : undefined,
      JSON.stringify(cookie),
    );
  }
  // Generated headers over a small alphabet against the oracle.
  const alphabet = [
    'canary=always',
    'CaNaRy =  always',
    'canary= never',
    'canar',
    'canaryx=always',
    'x=1',
    '=always',
    'always',
    ' ',
    ';',
    ',',
    '; ',
    'canary',
  ];
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const plain = canary({ [`${P}/canary-by-cookie`]: 'Canary' });
  const seen = { always: 0, never: 0 };
  for (let i = 0; i < 3000; i++) {
    let cookie = '';
    const length = 1 + (next() % 8);
    for (let j = 0; j < length; j++) cookie += alphabet[next() % alphabet.length];
    const value = nginxCookie(cookie, 'Canary');
    if (value === 'always') seen.always++;
    else if (value === 'never') seen.never++;
    assert.equal(lane(plain, { cookie }), value === 'always' ? 'canary' : undefined, JSON.stringify(cookie));
    assert.equal(lane(rules, { cookie }), value === 'never' ? undefined : 'canary', JSON.stringify(cookie));
  }
  // The generator reaches both answers often (about 480 and 230 of 3,000 with this seed).
  assert.ok(seen.always > 100 && seen.never > 100, JSON.stringify(seen));
});

// kubernetes/ingress-nginx balancer.lua: on `ngx.re.match` error it logs "error when matching
// canary-by-header-pattern" and returns false (mainline, no cookie, no weight); docs/user-guide/
// nginx-configuration/annotations.md#canary: "When the given Regex causes error during request
// processing, the request will be considered as not matching."
test('ingress-nginx: an invalid canary-by-header-pattern never matches, with a one-time warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const annotations = {
      [`${P}/canary-by-header`]: 'x-canary',
      [`${P}/canary-by-header-pattern`]: 'ios-(7|8',
      [`${P}/canary-by-cookie`]: 'c',
      [`${P}/canary-weight`]: '100',
    };
    const rules = canary(annotations);
    canary(annotations);
    assert.equal(lane(rules, { 'x-canary': 'ios-7' }), undefined, 'the header is there: mainline');
    assert.equal(lane(rules, { 'x-canary': 'ios-7', cookie: 'c=always' }), undefined, 'not even the cookie');
    assert.equal(lane(rules, { cookie: 'c=always' }), 'canary', 'no header: cookie');
    assert.equal(lane(rules, {}), 'canary', 'no header: weight');
    await new Promise((resolve) => setImmediate(resolve));
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'GL_WARN_INVALID_CANARY_PATTERN');
    assert.equal(ours.length, 1, 'once per pattern');
    assert.match(ours[0]!.message, /canary-by-header-pattern/);
  } finally {
    process.off('warning', onWarning);
  }
  // A PCRE feature RE2 lacks is valid in nginx: graylane cannot reproduce it and says so.
  bad(
    { [`${P}/canary`]: 'true', [`${P}/canary-by-header`]: 'x', [`${P}/canary-by-header-pattern`]: '(?=a)a' },
    `${P}/canary-by-header-pattern`,
    /RE2/,
  );
});

// kubernetes/ingress-nginx docs/user-guide/nginx-configuration/annotations.md#session-affinity
// (affinity-canary-behavior "sticky" (default) keeps users served by canaries on canaries) and
// internal/ingress/controller/controller.go mergeAlternativeBackend (the canary copies the
// mainline's SessionAffinity unless "legacy"): a per-request rule cannot reproduce it.
test('ingress-nginx: session affinity on a canary is a clear load error', () => {
  const on = { [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '20' };
  bad({ ...on, [`${P}/affinity`]: 'cookie' }, `${P}/affinity`, /session affinity .* not supported/);
  bad(
    { ...on, [`${P}/affinity-canary-behavior`]: 'sticky' },
    `${P}/affinity-canary-behavior`,
    /not supported/,
  );
  bad(
    { ...on, [`${P}/affinity-canary-behavior`]: 'often' },
    `${P}/affinity-canary-behavior`,
    /sticky.*legacy/,
  );
  assert.equal(
    rulesFromNginxCanary({ ...on, [`${P}/affinity-canary-behavior`]: 'legacy' }, { lane: 'c' }).length,
    1,
  );
});
