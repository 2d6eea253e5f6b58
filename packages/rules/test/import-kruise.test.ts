import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileRules,
  type EdgeRequest,
  InvalidImportError,
  rulesFromKruiseTrafficRouting,
} from '@graylane/rules';
import { assertTypedError } from '../../../test/helpers/typed-error';

// The OpenKruise full-link gray example (docs: "End-to-end canary" / 全链路灰度).
const trafficRouting = {
  apiVersion: 'rollouts.kruise.io/v1alpha1',
  kind: 'TrafficRouting',
  metadata: { name: 'mse-traffic' },
  spec: {
    objectRef: [{ service: 'spring-cloud-a', ingress: { classType: 'mse', name: 'spring-cloud-a' } }],
    strategy: {
      matches: [{ headers: [{ type: 'Exact', name: 'User-Agent', value: 'foo' }] }],
      requestHeaderModifier: { set: [{ name: 'x-mse-tag', value: 'gray' }] },
    },
  },
};

function decide(rules: ReturnType<typeof compileRules>, request: EdgeRequest) {
  return rules.decide(request);
}

test('the full-link gray example: User-Agent: foo enters gray and gets x-mse-tag: gray', () => {
  const imported = rulesFromKruiseTrafficRouting(trafficRouting);
  assert.deepEqual(imported, [
    {
      lane: 'gray',
      name: 'kruise canary',
      matches: [{ headers: [{ name: 'User-Agent', type: 'Exact', value: 'foo' }] }],
      setHeaders: { 'x-mse-tag': 'gray' },
    },
  ]);
  const rules = compileRules(imported);
  const d = decide(rules, { headers: { 'user-agent': 'foo' } });
  assert.equal(d.lane, 'gray');
  assert.deepEqual(d.setHeaders, { 'x-mse-tag': 'gray' });
  assert.equal(decide(rules, { headers: { 'user-agent': 'foo2' } }).lane, undefined);
  assert.equal(decide(rules, { headers: {} }).lane, undefined);
});

test('matches are ORed, headers within a match ANDed; Exact and RegularExpression types', () => {
  const rules = compileRules(
    rulesFromKruiseTrafficRouting(
      {
        matches: [
          {
            headers: [
              { name: 'x-a', value: '1' },
              { name: 'x-b', type: 'RegularExpression', value: 'v[0-9]+' },
            ],
          },
          { queryParams: [{ name: 'canary', value: 'true' }] },
        ],
      },
      { lane: 'blue' },
    ),
  );
  assert.equal(decide(rules, { headers: { 'x-a': '1', 'x-b': 'v12' } }).lane, 'blue');
  assert.equal(
    decide(rules, { headers: { 'x-a': '1', 'x-b': 'xv12' } }).lane,
    undefined,
    'regex is a whole-value match',
  );
  assert.equal(decide(rules, { headers: { 'x-a': '1' } }).lane, undefined, 'both headers are required');
  assert.equal(decide(rules, { path: '/?canary=true' }).lane, 'blue', 'the second match alone is enough');
});

test('weight alone takes that share; with matches, the matches take precedence and the weight is ignored', () => {
  let i = 0;
  const cycle = () => (i++ % 100) / 100;
  const weighted = compileRules(
    rulesFromKruiseTrafficRouting({ spec: { strategy: { weight: 20 } } }, { lane: 'gray' }),
    {
      random: cycle,
    },
  );
  let n = 0;
  for (let k = 0; k < 1000; k++) if (decide(weighted, {}).lane === 'gray') n++;
  assert.equal(n, 200);
  const both = rulesFromKruiseTrafficRouting(
    { strategy: { weight: 100, matches: [{ headers: [{ name: 'x', value: '1' }] }] } },
    { lane: 'gray' },
  );
  assert.equal(both[0]!.weight, undefined);
  assert.equal(decide(compileRules(both), { headers: {} }).lane, undefined, 'weight 100 does not apply');
  assert.deepEqual(
    rulesFromKruiseTrafficRouting({ strategy: {} }, { lane: 'gray' }),
    [],
    'no matches, no weight: nothing',
  );
  assert.deepEqual(rulesFromKruiseTrafficRouting({ strategy: { weight: 0 } }, { lane: 'gray' }), []);
});

test('a Rollout canary step (v1beta1 traffic), path matches and header add/remove', () => {
  const rollout = {
    apiVersion: 'rollouts.kruise.io/v1beta1',
    kind: 'Rollout',
    spec: {
      strategy: {
        canary: {
          steps: [
            { traffic: '20%' },
            {
              matches: [{ path: { type: 'PathPrefix', value: '/api/' } }],
              requestHeaderModifier: { add: [{ name: 'x-via', value: 'canary' }], remove: ['X-Debug'] },
            },
          ],
        },
      },
    },
  };
  assert.deepEqual(rulesFromKruiseTrafficRouting(rollout, { lane: 'gray', step: 0 }), [
    { lane: 'gray', name: 'kruise canary', weight: 20 },
  ]);
  const rules = compileRules(rulesFromKruiseTrafficRouting(rollout, { lane: 'gray', step: 1 }));
  for (const [path, expected] of [
    ['/api', 'gray'],
    ['/api/', 'gray'],
    ['/api/x?y=1', 'gray'],
    ['/apix', undefined],
    ['/', undefined],
  ] as const) {
    assert.equal(decide(rules, { path }).lane, expected, path);
  }
  const d = decide(rules, { path: '/api/x' });
  assert.deepEqual(d.addHeaders, { 'x-via': 'canary' });
  assert.deepEqual(d.removeHeaders, ['x-debug']);
});

function bad(tr: object, path: string, options: object = { lane: 'gray' }, message?: RegExp): void {
  assertTypedError(() => rulesFromKruiseTrafficRouting(tr as never, options as never), InvalidImportError, {
    code: 'GL_ERR_INVALID_IMPORT',
    path,
    message,
  });
}

test('bad strategies fail at load naming the field', () => {
  bad(
    { spec: { strategy: { matches: [{ headers: [{ name: 'x', type: 'Prefix', value: 'a' }] }] } } },
    'spec.strategy.matches[0].headers[0].type',
    undefined,
    /Exact or RegularExpression/,
  );
  bad(
    {
      spec: { strategy: { matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: '(' }] }] } },
    },
    'spec.strategy.matches[0].headers[0].value',
  );
  bad(
    { spec: { strategy: { matches: [{ headers: [{ name: 'bad name', value: 'a' }] }] } } },
    'spec.strategy.matches[0].headers[0].name',
  );
  bad({ spec: { strategy: { weight: 150 } } }, 'spec.strategy.weight');
  bad({ strategy: { traffic: 'lots' } }, 'strategy.traffic');
  bad(
    { spec: { strategy: { matches: [{ path: { type: 'Glob', value: '/a' } }] } } },
    'spec.strategy.matches[0].path.type',
  );
  bad({ spec: { strategy: { matches: 'x' } } }, 'spec.strategy.matches');
  bad({ spec: { strategy: { weight: 10 } } }, 'options.lane', {}, /no lane/);
  bad({ kind: 'Rollout', spec: { strategy: { canary: { steps: [{}] } } } }, 'options.step');
});

// openkruise/rollouts lua_configuration/trafficrouting_ingress/nginx.lua: a match header named
// "canary-by-cookie" becomes `nginx.ingress.kubernetes.io/canary-by-cookie: <value>`, so the value
// names a cookie and ingress-nginx routes on it carrying "always" (balancer.lua); any other first
// header becomes canary-by-header + canary-by-header-value (or -pattern for RegularExpression).
// pkg/trafficrouting/network/ingress/nginx.go: classType "" means "nginx".
test('OpenKruise on ingress-nginx: the canary-by-cookie convention (the cookie must carry "always")', () => {
  const rollout = {
    apiVersion: 'rollouts.kruise.io/v1alpha1',
    kind: 'Rollout',
    spec: {
      strategy: {
        canary: {
          trafficRoutings: [{ service: 'echo', ingress: { name: 'echo' } }],
          steps: [
            {
              matches: [{ headers: [{ name: 'canary-by-cookie', value: 'demo' }] }],
              requestHeaderModifier: { set: [{ name: 'x-mse-tag', value: 'gray' }] },
            },
            { matches: [{ headers: [{ name: 'user_id', value: '123456' }] }] },
          ],
        },
      },
    },
  };
  const rules = compileRules(rulesFromKruiseTrafficRouting(rollout, { step: 0 }));
  assert.equal(decide(rules, { headers: { cookie: 'demo=always' } }).lane, 'gray');
  assert.deepEqual(decide(rules, { headers: { cookie: 'demo=always' } }).setHeaders, { 'x-mse-tag': 'gray' });
  assert.equal(decide(rules, { headers: { cookie: 'demo=yes' } }).lane, undefined, 'only "always"');
  assert.equal(decide(rules, { headers: { cookie: 'demo=never' } }).lane, undefined);
  assert.equal(decide(rules, { headers: { 'canary-by-cookie': 'demo' } }).lane, undefined, 'not a header');
  // Another header: its exact value, read as nginx reads $http_user_id (user-id on the wire).
  const byHeader = compileRules(rulesFromKruiseTrafficRouting(rollout, { step: 1, lane: 'gray' }));
  assert.equal(decide(byHeader, { headers: { 'user-id': '123456' } }).lane, 'gray');
  assert.equal(decide(byHeader, { headers: { 'user-id': 'always' } }).lane, undefined);
  // With the Gateway API provider the name is an ordinary header name.
  const gateway = compileRules(rulesFromKruiseTrafficRouting(rollout, { step: 0, provider: 'gateway' }));
  assert.equal(decide(gateway, { headers: { 'canary-by-cookie': 'demo' } }).lane, 'gray');
  assert.equal(decide(gateway, { headers: { cookie: 'demo=always' } }).lane, undefined);
  // The MSE example keeps its Gateway-API semantics (classType: mse).
  assert.equal(
    rulesFromKruiseTrafficRouting(trafficRouting)[0]!.matches?.[0]?.headers?.[0]?.name,
    'User-Agent',
  );
});
