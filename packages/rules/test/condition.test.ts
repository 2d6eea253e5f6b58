// Native conditions against Envoy's (and the Gateway API's, and grpc-go's) header matching: each
// test names the source file or document the expected answers were derived from.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import {
  type CompiledRules,
  compileRules,
  type EdgeRequest,
  InvalidRuleError,
  type Rule,
} from '@graylane/rules';
import { listen } from '../../../test/helpers/listen';
import { assertTypedError } from '../../../test/helpers/typed-error';

function laneOf(rules: CompiledRules, request: EdgeRequest | IncomingMessage): string | undefined {
  return rules.decide(request).lane;
}

function one(condition: Record<string, unknown>): CompiledRules {
  return compileRules([{ lane: 'gray', matches: [{ headers: [condition as never] }] }]);
}

// Sends one raw HTTP/1.1 request (so a header can be repeated) and returns the lane decided for it.
async function laneOverHttp(
  rules: CompiledRules,
  head: string,
  t: import('node:test').TestContext,
): Promise<string | undefined> {
  let decided: string | undefined;
  const server = createServer((req, res) => {
    decided = laneOf(rules, req);
    res.end('ok');
  });
  const port = await listen(server, t);
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  let reply = '';
  socket.setEncoding('utf8');
  for await (const chunk of socket) reply += chunk;
  assert.match(reply, /^HTTP\/1\.1 200/);
  return decided;
}

// envoyproxy/envoy source/common/http/header_utility.cc, getAllOfHeaderAsString (separator ","
// by default in header_utility.h) and grpc/grpc-go internal/xds/matcher/matcher_header.go,
// mdValuesFromOutgoingCtx: "If there are multiple values, the values are concatenated with ','
// (comma and no space). All header matchers only match against the comma-concatenated string."
test('a repeated header is matched on its values joined with "," (Envoy, grpc-go), not ", "', async (t) => {
  const rules = one({ name: 'x-version', value: 'v1,v2' });
  assert.equal(laneOf(rules, { headers: { 'x-version': ['v1', 'v2'] } }), 'gray');
  assert.equal(laneOf(rules, { headers: { 'x-version': 'v1' } }), undefined);
  // An IncomingMessage: Node has already joined the two lines with ", ".
  assert.equal(await laneOverHttp(rules, 'GET / HTTP/1.1\r\nX-Version: v1\r\nX-Version: v2', t), 'gray');
  // One line whose value itself holds ", " is left alone.
  const single = one({ name: 'x-version', value: 'v1, v2' });
  assert.equal(await laneOverHttp(single, 'GET / HTTP/1.1\r\nX-Version: v1, v2', t), 'gray');
});

// envoyproxy/envoy source/common/http/header_utility.cc, HeaderUtility::matchHeaders: when the
// header is absent, an inverted matcher returns `header_match_type_ == Present && present_`, so
// only an inverted present_match holds; api/envoy/config/route/v3/route_components.proto,
// HeaderMatcher.treat_missing_header_as_empty: "the header value will be treated as empty".
test('an inverted comparison does not hold when the header is absent (Envoy), unless treatMissingAsEmpty', () => {
  const inverted = one({ name: 'x-env', value: 'prod', invert: true });
  assert.equal(laneOf(inverted, { headers: { 'x-env': 'qa' } }), 'gray');
  assert.equal(laneOf(inverted, { headers: { 'x-env': 'prod' } }), undefined);
  assert.equal(laneOf(inverted, { headers: {} }), undefined, 'absent: an inverted exact does not match');
  const regex = one({ name: 'x-env', type: 'RegularExpression', value: 'p.*', invert: true });
  assert.equal(laneOf(regex, { headers: {} }), undefined);
  const empty = one({ name: 'x-env', value: 'prod', invert: true, treatMissingAsEmpty: true });
  assert.equal(laneOf(empty, { headers: {} }), 'gray', '"" is not "prod", inverted: holds');
  const anything = one({
    name: 'x-env',
    type: 'RegularExpression',
    value: '.*',
    invert: true,
    treatMissingAsEmpty: true,
  });
  assert.equal(laneOf(anything, { headers: {} }), undefined, '"" matches .*, inverted: never holds');
  assert.equal(laneOf(anything, { headers: { 'x-env': 'x' } }), undefined);
  // Presence keeps its meaning: an inverted Present is Absent.
  assert.equal(laneOf(one({ name: 'x-env', type: 'Present', invert: true }), { headers: {} }), 'gray');
  assert.equal(laneOf(one({ name: 'x-env', type: 'Absent', invert: true }), { headers: {} }), undefined);
  // The same for query parameters and cookies.
  const query = compileRules([
    { lane: 'q', matches: [{ queryParams: [{ name: 'a', value: '1', invert: true }] }] },
  ]);
  assert.equal(laneOf(query, { path: '/?a=2' }), 'q');
  assert.equal(laneOf(query, { path: '/' }), undefined);
});

// envoyproxy/envoy api/envoy/type/matcher/v3/string.proto, StringMatcher: exact, prefix, suffix,
// contains, safe_regex; ignore_case "If true, indicates the exact/prefix/suffix/contains matching
// should be case insensitive ... ignore_case: true ... abc matches ABC"; has no effect on safe_regex.
test('Suffix and Contains, and ignoreCase for Exact, Prefix, Suffix and Contains (xDS StringMatcher)', () => {
  const rules = compileRules([
    { lane: 'suffix', matches: [{ headers: [{ name: 'x-a', type: 'Suffix', value: '-beta' }] }] },
    { lane: 'contains', matches: [{ headers: [{ name: 'x-b', type: 'Contains', value: 'qa' }] }] },
    { lane: 'exact-i', matches: [{ headers: [{ name: 'x-c', value: 'Gray', ignoreCase: true }] }] },
    {
      lane: 'prefix-i',
      matches: [{ headers: [{ name: 'x-d', type: 'Prefix', value: 'ABC', ignoreCase: true }] }],
    },
    {
      lane: 'suffix-i',
      matches: [{ headers: [{ name: 'x-e', type: 'Suffix', value: '.Com', ignoreCase: true }] }],
    },
    {
      lane: 'contains-i',
      matches: [{ headers: [{ name: 'x-f', type: 'Contains', value: 'iPhone', ignoreCase: true }] }],
    },
    { lane: 'path', matches: [{ path: { type: 'Suffix', value: '.json' } }] },
    { lane: 'method', matches: [{ method: { value: 'get', ignoreCase: true } }] },
  ] as Rule[]);
  assert.equal(laneOf(rules, { headers: { 'x-a': 'v2-beta' } }), 'suffix');
  assert.equal(laneOf(rules, { headers: { 'x-a': 'v2-BETA' } }), undefined, 'case-sensitive by default');
  assert.equal(laneOf(rules, { headers: { 'x-b': 'user-qa-7' } }), 'contains');
  assert.equal(laneOf(rules, { headers: { 'x-b': 'user-QA-7' } }), undefined);
  assert.equal(laneOf(rules, { headers: { 'x-c': 'gRAY' } }), 'exact-i');
  assert.equal(laneOf(rules, { headers: { 'x-c': 'grayx' } }), undefined);
  assert.equal(laneOf(rules, { headers: { 'x-d': 'abcdef' } }), 'prefix-i');
  assert.equal(laneOf(rules, { headers: { 'x-e': 'SHOP.EXAMPLE.COM' } }), 'suffix-i');
  assert.equal(laneOf(rules, { headers: { 'x-f': 'Mozilla (IPHONE; CPU)' } }), 'contains-i');
  assert.equal(laneOf(rules, { path: '/a/b.json' }), 'path');
  assert.equal(laneOf(rules, { method: 'GET', path: '/' }), 'method');
  // ASCII only, as absl::EqualsIgnoreCase: no Unicode case folding.
  assert.equal(
    laneOf(one({ name: 'x', value: 'straße', ignoreCase: true }), { headers: { x: 'STRASSE' } }),
    undefined,
  );
});

// envoyproxy/envoy api/envoy/type/matcher/v3/string.proto: prefix, suffix and contains carry
// `(validate.rules).string = {min_len: 1}`, so xDS rejects an empty one; exact may be empty.
// api/envoy/config/route/v3/route_components.proto RouteMatch.prefix has no such rule (a path
// prefix "" matches every path).
test('an empty Prefix, Suffix or Contains is rejected at load; an empty Exact and an empty path Prefix are not', () => {
  for (const type of ['Prefix', 'Suffix', 'Contains']) {
    for (const field of ['headers', 'queryParams', 'cookies']) {
      assertTypedError(
        () => compileRules([{ lane: 'g', matches: [{ [field]: [{ name: 'a', type, value: '' }] }] } as Rule]),
        InvalidRuleError,
        { code: 'GL_ERR_INVALID_RULE', path: `rules[0].matches[0].${field}[0].value` },
      );
    }
    if (type !== 'Prefix') {
      assertTypedError(
        () => compileRules([{ lane: 'g', matches: [{ path: { type, value: '' } }] } as Rule]),
        InvalidRuleError,
        { code: 'GL_ERR_INVALID_RULE', path: 'rules[0].matches[0].path.value' },
      );
    }
  }
  assert.equal(laneOf(one({ name: 'a', value: '' }), { headers: { a: '' } }), 'gray');
  const anyPath = compileRules([{ lane: 'g', matches: [{ path: { type: 'Prefix', value: '' } }] }]);
  assert.equal(laneOf(anyPath, { path: '/x' }), 'g');
  assertTypedError(
    () =>
      compileRules([
        {
          lane: 'g',
          matches: [{ headers: [{ name: 'a', type: 'RegularExpression', value: 'a', ignoreCase: true }] }],
        },
      ]),
    InvalidRuleError,
    { code: 'GL_ERR_INVALID_RULE', path: 'rules[0].matches[0].headers[0].ignoreCase' },
  );
});

// envoyproxy/envoy api/envoy/config/route/v3/route_components.proto, HeaderMatcher: "Internally,
// Envoy always uses the HTTP/2 :authority header to represent the HTTP/1 Host header. Thus, if
// attempting to match on Host, match on :authority instead"; pseudo-headers such as :method and
// :path (which carries the query string) are matched like any header.
test('the pseudo-headers :method, :path, :authority and :scheme are matchable as headers', async (t) => {
  const rules = compileRules([
    { lane: 'method', matches: [{ headers: [{ name: ':method', value: 'PUT' }] }] },
    { lane: 'path', matches: [{ headers: [{ name: ':path', type: 'Suffix', value: '?debug=1' }] }] },
    { lane: 'authority', matches: [{ headers: [{ name: ':authority', type: 'Prefix', value: 'gray.' }] }] },
    {
      lane: 'scheme',
      matches: [
        {
          headers: [
            { name: ':scheme', value: 'http' },
            { name: 'x-s', type: 'Present' },
          ],
        },
      ],
    },
  ]);
  assert.equal(laneOf(rules, { method: 'PUT', path: '/' }), 'method');
  assert.equal(laneOf(rules, { path: '/a?debug=1' }), 'path');
  assert.equal(laneOf(rules, { path: '/a?debug=1#frag' }), 'path', 'no fragment in :path');
  assert.equal(laneOf(rules, { path: '/a', headers: { host: 'gray.example.com' } }), 'authority');
  assert.equal(laneOf(rules, { path: '/a', headers: { ':authority': 'gray.example.com' } }), 'authority');
  assert.equal(laneOf(rules, { path: '/a', headers: { ':scheme': 'http', 'x-s': '1' } }), 'scheme');
  assert.equal(laneOf(rules, { path: '/a', headers: { 'x-s': '1' } }), undefined, 'no scheme known');
  // An IncomingMessage on a plain socket is http.
  assert.equal(await laneOverHttp(rules, 'GET /x HTTP/1.1\r\nX-S: 1', t), 'scheme');
  assertTypedError(
    () => compileRules([{ lane: 'g', matches: [{ headers: [{ name: ':status', value: '200' }] }] }]),
    InvalidRuleError,
    { code: 'GL_ERR_INVALID_RULE', path: 'rules[0].matches[0].headers[0].name' },
  );
});
