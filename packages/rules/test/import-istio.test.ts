import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileRules,
  type EdgeRequest,
  InvalidImportError,
  rulesFromIstioVirtualService,
  subsetLanesFromDestinationRule,
} from '@graylane/rules';
import { assertTypedError } from '../../../test/helpers/typed-error';

const destinationRule = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'reviews' },
  spec: {
    host: 'reviews',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2', 'alicloud.service.tag': 'gray' } },
    ],
  },
};

const virtualService = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews' },
  spec: {
    hosts: ['reviews'],
    http: [
      {
        match: [{ headers: { version: { exact: '100' } } }],
        route: [{ destination: { host: 'reviews', subset: 'v1' } }],
      },
      {
        match: [{ headers: { version: { exact: '200' } } }],
        route: [{ destination: { host: 'reviews', subset: 'v2' } }],
      },
      {
        route: [
          { destination: { host: 'reviews', subset: 'v1' }, weight: 10 },
          { destination: { host: 'reviews', subset: 'v2' }, weight: 90 },
        ],
      },
    ],
  },
};

function cycle(): () => number {
  let i = 0;
  return () => (i++ % 100) / 100;
}

test('subset lanes come from DestinationRule labels (the discovery defaults, or given labels)', () => {
  assert.deepEqual(subsetLanesFromDestinationRule(destinationRule), { v1: null, v2: 'gray' });
  assert.deepEqual(subsetLanesFromDestinationRule(destinationRule, { laneLabels: ['version'] }), {
    v1: 'v1',
    v2: 'v2',
  });
  assert.deepEqual(
    subsetLanesFromDestinationRule([
      { subsets: [{ name: 'c', labels: { 'opensergo.io/canary-gray': 'gray' } }] },
      destinationRule.spec,
    ]),
    { c: 'gray', v1: null, v2: 'gray' },
  );
  assert.throws(
    () =>
      subsetLanesFromDestinationRule({
        spec: { subsets: [{ name: 'x', labels: { ASM_TRAFFIC_TAG: 'no good' } }] },
      }),
    (err: unknown) =>
      err instanceof InvalidImportError && err.path === 'spec.subsets[0].labels.ASM_TRAFFIC_TAG',
  );
});

test('the version 100/200 header routes and the 10/90 weighted route', () => {
  const subsetLanes = subsetLanesFromDestinationRule(destinationRule);
  const rules = compileRules(rulesFromIstioVirtualService(virtualService, { subsetLanes }), {
    random: cycle(),
  });
  const lane = (headers: Record<string, string>) => rules.decide({ headers } as EdgeRequest).lane;
  assert.equal(lane({ version: '100' }), undefined, 'v1 is the base lane');
  assert.equal(
    rules.decide({ headers: { version: '100' } }).rule,
    0,
    'decided by the first route, not the weights',
  );
  assert.equal(lane({ version: '200' }), 'gray');
  let gray = 0;
  for (let i = 0; i < 1000; i++) if (lane({ version: '300' }) === 'gray') gray++;
  assert.equal(gray, 900, '90% of the rest goes to v2');
});

test('http routes are tried in order: the first match wins even if a later one is more specific', () => {
  const rules = compileRules(
    rulesFromIstioVirtualService(
      {
        http: [
          { match: [{ uri: { prefix: '/' } }], route: [{ destination: { host: 'r', subset: 'a' } }] },
          { match: [{ uri: { exact: '/special' } }], route: [{ destination: { host: 'r', subset: 'b' } }] },
        ],
      },
      { subsetLanes: { a: 'lane-a', b: 'lane-b' } },
    ),
  );
  assert.equal(rules.decide({ path: '/special' }).lane, 'lane-a');
});

test('match fields: uri, ignoreUriCase, method, authority, headers, withoutHeaders, queryParams', () => {
  const route = (match: object) =>
    compileRules(
      rulesFromIstioVirtualService(
        { http: [{ match: [match], route: [{ destination: { host: 'r', subset: 'g' } }] }] },
        {
          subsetLanes: { g: 'gray' },
        },
      ),
    );
  const check = (match: object, request: EdgeRequest, expected: boolean) =>
    assert.equal(
      route(match).decide(request).lane,
      expected ? 'gray' : undefined,
      `${JSON.stringify(match)} ${JSON.stringify(request)}`,
    );
  check({ uri: { exact: '/a' } }, { path: '/a?x=1' }, true);
  check({ uri: { exact: '/a' } }, { path: '/a/' }, false);
  check({ uri: { prefix: '/api' } }, { path: '/api/x' }, true);
  check({ uri: { regex: '/v[0-9]+' } }, { path: '/v12' }, true);
  check({ uri: { regex: '/v[0-9]+' } }, { path: '/v12/x' }, false);
  check({ uri: { exact: '/Api' }, ignoreUriCase: true }, { path: '/aPI' }, true);
  check({ uri: { prefix: '/Api' }, ignoreUriCase: true }, { path: '/apix' }, true);
  check({ uri: { regex: '/Api' }, ignoreUriCase: true }, { path: '/api' }, false);
  check({ method: { exact: 'GET' } }, { method: 'GET' }, true);
  check({ method: { exact: 'GET' } }, { method: 'POST' }, false);
  check({ authority: { prefix: 'shop.' } }, { headers: { host: 'shop.example.com' } }, true);
  check({ headers: { 'x-user': {} } }, { headers: { 'x-user': '' } }, true);
  check({ headers: { 'x-user': {} } }, { headers: {} }, false);
  check({ headers: { 'x-user': { regex: 'qa-.*' } } }, { headers: { 'x-user': 'qa-1' } }, true);
  check({ headers: { uri: { exact: 'ignored' } } }, { headers: {} }, true);
  check({ withoutHeaders: { 'x-env': { exact: 'prod' } } }, { headers: { 'x-env': 'qa' } }, true);
  check({ withoutHeaders: { 'x-env': { exact: 'prod' } } }, { headers: {} }, true);
  check({ withoutHeaders: { 'x-env': { exact: 'prod' } } }, { headers: { 'x-env': 'prod' } }, false);
  check({ withoutHeaders: { 'x-env': {} } }, { headers: { 'x-env': '' } }, false);
  check({ withoutHeaders: { 'x-env': {} } }, { headers: {} }, true);
  check({ queryParams: { debug: { exact: '' } } }, { path: '/?debug' }, true);
  check({ queryParams: { id: { regex: '\\d+' } } }, { path: '/?id=123' }, true);
  check({ queryParams: { id: { regex: '\\d+' } } }, { path: '/?id=a123' }, false);
  check({ headers: { a: { exact: '1' } }, uri: { prefix: '/x' } }, { path: '/x', headers: { a: '1' } }, true);
  check(
    { headers: { a: { exact: '1' } }, uri: { prefix: '/x' } },
    { path: '/y', headers: { a: '1' } },
    false,
  );
});

test('weights are relative; one destination takes all; no subset is the base lane; header operations merge', () => {
  const rules = compileRules(
    rulesFromIstioVirtualService(
      {
        http: [
          {
            match: [{ headers: { a: { exact: '1' } } }, { headers: { b: { exact: '1' } } }],
            headers: { request: { set: { 'x-route': 'r' }, remove: ['x-drop'] } },
            route: [
              { destination: { host: 'r' }, weight: 1 },
              {
                destination: { host: 'r', subset: 'g' },
                weight: 3,
                headers: { request: { add: { 'x-dest': 'g' } } },
              },
              { destination: { host: 'r', subset: 'never' }, weight: 0 },
            ],
          },
          { route: [{ destination: { host: 'r', subset: 'other' } }] },
        ],
      },
      { subsetLanes: { g: 'gray', other: 'blue' } },
    ),
    { random: cycle() },
  );
  const counts = new Map<string | undefined, number>();
  for (let i = 0; i < 1000; i++) {
    const d = rules.decide({ headers: { b: '1' } });
    counts.set(d.lane, (counts.get(d.lane) ?? 0) + 1);
    if (d.lane === 'gray') assert.deepEqual(d.addHeaders, { 'x-dest': 'g' });
    assert.deepEqual(d.setHeaders, { 'x-route': 'r' });
    assert.deepEqual(d.removeHeaders, ['x-drop']);
  }
  assert.equal(counts.get(undefined), 250, 'the destination without a subset: base lane, 1/4');
  assert.equal(counts.get('gray'), 750);
  assert.equal(counts.get('blue'), undefined, 'matched traffic never falls to the next route');
  assert.equal(rules.decide({ headers: {} }).lane, 'blue', 'a single destination takes everything');
});

test('a route without destinations (redirect) keeps its requests in the base lane', () => {
  const rules = compileRules(
    rulesFromIstioVirtualService(
      {
        http: [
          { match: [{ uri: { prefix: '/old' } }], redirect: { uri: '/new' } },
          { route: [{ destination: { host: 'r', subset: 'g' } }] },
        ],
      },
      { subsetLanes: { g: 'gray' } },
    ),
  );
  assert.equal(rules.decide({ path: '/old/x' }).lane, undefined);
  assert.equal(rules.decide({ path: '/old/x' }).rule, 0);
  assert.equal(rules.decide({ path: '/new' }).lane, 'gray');
});

function bad(
  vs: object,
  path: string,
  options: object = { subsetLanes: { g: 'gray' } },
  message?: RegExp,
): void {
  assertTypedError(() => rulesFromIstioVirtualService(vs as never, options as never), InvalidImportError, {
    code: 'GL_ERR_INVALID_IMPORT',
    source: 'Istio',
    path,
    message,
  });
}

test('bad VirtualServices fail at load naming the field', () => {
  const to = (subset: string) => [{ destination: { host: 'r', subset } }];
  bad(
    { spec: { http: [{ route: to('nope') }] } },
    'spec.http[0].route[0].destination.subset',
    undefined,
    /no lane/,
  );
  bad({ spec: { http: [{ route: to('g') }] } }, 'options.subsetLanes["g"]', {
    subsetLanes: { g: 'Not A Lane!' },
  });
  bad(
    { spec: { http: [{ match: [{ gateways: ['mesh'] }], route: to('g') }] } },
    'spec.http[0].match[0].gateways',
    undefined,
    /ignoreUnsupported/,
  );
  bad(
    { spec: { http: [{ match: [{ headers: { a: { exact: 'x', prefix: 'y' } } }], route: to('g') }] } },
    'spec.http[0].match[0].headers.a',
  );
  bad(
    { spec: { http: [{ match: [{ headers: { a: { glob: 'x' } } }], route: to('g') }] } },
    'spec.http[0].match[0].headers.a.glob',
  );
  bad(
    { spec: { http: [{ match: [{ uri: { regex: '(?!x)' } }], route: to('g') }] } },
    'spec.http[0].match[0].uri.regex',
    undefined,
    /RE2/,
  );
  bad(
    { spec: { http: [{ match: [{ queryParams: { a: { prefix: '' } } }], route: to('g') }] } },
    'spec.http[0].match[0].queryParams.a.prefix',
  );
  bad(
    { spec: { http: [{ route: [{ destination: { host: 'r', subset: 'g' }, weight: -5 }] }] } },
    'spec.http[0].route[0].weight',
  );
  bad(
    {
      spec: {
        http: [
          {
            route: [
              { destination: { host: 'r', subset: 'g' }, weight: 0 },
              { destination: { host: 'r' }, weight: 0 },
            ],
          },
        ],
      },
    },
    'spec.http[0].route',
  );
  // Ignoring what an application edge cannot see is an explicit choice.
  const ignored = rulesFromIstioVirtualService(
    { http: [{ match: [{ gateways: ['mesh'], port: 80, uri: { prefix: '/a' } }], route: to('g') }] },
    { subsetLanes: { g: 'gray' }, ignoreUnsupported: true },
  );
  assert.deepEqual(ignored[0]!.matches, [{ path: { type: 'Prefix', value: '/a' } }]);
});

// Conformance with Istio's own translation and validation (istio/istio at 86c9f01).
function istioRoute(match: object) {
  return compileRules(
    rulesFromIstioVirtualService(
      { http: [{ match: [match], route: [{ destination: { host: 'r', subset: 'g' } }] }] },
      { subsetLanes: { g: 'gray' } },
    ),
  );
}

function istioLane(match: object, request: EdgeRequest): string | undefined {
  return istioRoute(match).decide(request).lane;
}

// istio/istio pilot/pkg/networking/core/route/route.go, canBeConvertedToPresentMatch: "`*` is NOT
// a RE2 style regex, it's a metacharacter. It will be translated as present_match" (used by
// translateHeaderMatch for headers and withoutHeaders, and translateQueryParamMatch);
// pkg/config/validation/virtualservice_test.go "regex without headers match *" is valid.
test('Istio: regex "*" is a presence match in headers, withoutHeaders and queryParams', () => {
  assert.equal(
    istioLane({ headers: { 'end-user': { regex: '*' } } }, { headers: { 'end-user': '' } }),
    'gray',
  );
  assert.equal(istioLane({ headers: { 'end-user': { regex: '*' } } }, { headers: {} }), undefined);
  assert.equal(istioLane({ withoutHeaders: { 'end-user': { regex: '*' } } }, { headers: {} }), 'gray');
  assert.equal(
    istioLane({ withoutHeaders: { 'end-user': { regex: '*' } } }, { headers: { 'end-user': 'x' } }),
    undefined,
  );
  assert.equal(istioLane({ queryParams: { debug: { regex: '*' } } }, { path: '/?debug=no' }), 'gray');
  assert.equal(istioLane({ queryParams: { debug: { regex: '*' } } }, { path: '/' }), undefined);
});

// istio/istio pkg/config/validation/validation.go `pseudoHeaders` (:method, :scheme, :authority,
// :path) are valid header names (ValidateHTTPHeaderNameOrJwtClaimRoute); route.go passes header
// names through to Envoy, and matches `method`, `authority` and `scheme` as :method, :authority,
// :scheme (TranslateRouteMatch).
test('Istio: :method, :authority, :scheme and :path are matchable header names; scheme is matched', () => {
  assert.equal(istioLane({ headers: { ':method': { exact: 'POST' } } }, { method: 'POST' }), 'gray');
  assert.equal(istioLane({ headers: { ':method': { exact: 'POST' } } }, { method: 'GET' }), undefined);
  assert.equal(
    istioLane({ headers: { ':authority': { prefix: 'gray.' } } }, { headers: { host: 'gray.shop' } }),
    'gray',
  );
  assert.equal(istioLane({ headers: { ':path': { regex: '/a\\?x=.*' } } }, { path: '/a?x=1' }), 'gray');
  assert.equal(
    istioLane({ headers: { ':scheme': { exact: 'https' } } }, { headers: { ':scheme': 'https' } }),
    'gray',
  );
  assert.equal(istioLane({ scheme: { exact: 'https' } }, { headers: { ':scheme': 'http' } }), undefined);
  assert.equal(istioLane({ scheme: { exact: 'https' } }, { headers: { ':scheme': 'https' } }), 'gray');
});

// istio/istio pilot/pkg/networking/core/route/route.go TranslateRouteMatch: withoutHeaders matchers
// get InvertMatch and, unless present_match, TreatMissingHeaderAsEmpty; Envoy then compares a
// missing header as "" (api/envoy/config/route/v3/route_components.proto treat_missing_header_as_empty).
test('Istio: withoutHeaders treats a missing header as "", so { regex: ".*" } never matches', () => {
  const anyValue = { withoutHeaders: { 'end-user': { regex: '.*' } } };
  assert.equal(istioLane(anyValue, { headers: {} }), undefined, 'missing header is "", which .* matches');
  assert.equal(istioLane(anyValue, { headers: { 'end-user': 'jason' } }), undefined);
  const notJason = { withoutHeaders: { 'end-user': { exact: 'jason' } } };
  assert.equal(istioLane(notJason, { headers: {} }), 'gray', '"" is not jason');
  assert.equal(istioLane(notJason, { headers: { 'end-user': 'jason' } }), undefined);
  const nonEmpty = { withoutHeaders: { 'end-user': { exact: '' } } };
  assert.equal(istioLane(nonEmpty, { headers: {} }), undefined);
  assert.equal(istioLane(nonEmpty, { headers: { 'end-user': 'x' } }), 'gray');
});

// istio/istio pkg/config/validation/validation.go validateStringMatch / validateStringMatchRegexp
// and virtualservice.go validateHTTPRouteMatchRequest ("uri allows empty prefix match ... whereas
// scheme/method/authority does not"); virtualservice_test.go cases "empty prefix header match"
// (invalid), "prefix queryParams match" (valid), "empty prefix match in method" (invalid), "empty
// regex match in method" (invalid), "empty prefix match in uri" (valid).
test('Istio: empty exact/prefix/regex are refused or accepted exactly where Istio validation does', () => {
  const refused = [
    [{ headers: { a: { prefix: '' } } }, 'match[0].headers.a.prefix'],
    [{ headers: { a: { regex: '' } } }, 'match[0].headers.a.regex'],
    [{ withoutHeaders: { a: { prefix: '' } } }, 'match[0].withoutHeaders.a.prefix'],
    [{ queryParams: { a: { prefix: '' } } }, 'match[0].queryParams.a.prefix'],
    [{ queryParams: { a: { regex: '' } } }, 'match[0].queryParams.a.regex'],
    [{ method: { prefix: '' } }, 'match[0].method.prefix'],
    [{ method: { regex: '' } }, 'match[0].method.regex'],
    [{ authority: { prefix: '' } }, 'match[0].authority.prefix'],
    [{ scheme: { regex: '' } }, 'match[0].scheme.regex'],
    [{ uri: { regex: '' } }, 'match[0].uri.regex'],
  ] as const;
  for (const [match, path] of refused) {
    assertTypedError(() => istioRoute(match), InvalidImportError, {
      code: 'GL_ERR_INVALID_IMPORT',
      path: `virtualService.http[0].${path}`,
    });
  }
  // Accepted: an empty exact (matches the empty value), an empty uri prefix (every path), and a
  // non-empty queryParams prefix (an Envoy prefix StringMatcher).
  assert.equal(istioLane({ headers: { a: { exact: '' } } }, { headers: { a: '' } }), 'gray');
  assert.equal(istioLane({ headers: { a: { exact: '' } } }, { headers: { a: 'x' } }), undefined);
  assert.equal(istioLane({ queryParams: { a: { exact: '' } } }, { path: '/?a=' }), 'gray');
  assert.equal(istioLane({ uri: { prefix: '' } }, { path: '/anything' }), 'gray');
  assert.equal(istioLane({ queryParams: { v: { prefix: 'beta' } } }, { path: '/?v=beta-2' }), 'gray');
  assert.equal(istioLane({ queryParams: { v: { prefix: 'beta' } } }, { path: '/?v=alpha' }), undefined);
});
