// One edge suite for every framework adapter (laneEdge for Express, laneFastifyEdge for Fastify):
// the adapters share one contract, so one suite checks it against each framework version they
// support. A package's own test file describes how to start its framework and keeps only what is
// specific to it (how a proxy re-sends the headers, how the framework parses a URL).
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, InvalidOptionError, ingressCounters, resetIngressCounters } from '@graylane/core';
import {
  compileRules,
  type EdgeDecisionMessage,
  type EdgeOptions,
  InvalidRuleError,
  type Rule,
  rulesFromKruiseTrafficRouting,
} from '@graylane/rules';

/** A Kruise canary: `User-Agent: foo` goes to gray, and the edge sets `x-mse-tag: gray`. */
export const KRUISE_CANARY = rulesFromKruiseTrafficRouting({
  spec: {
    strategy: {
      matches: [{ headers: [{ type: 'Exact', name: 'User-Agent', value: 'foo' }] }],
      requestHeaderModifier: { set: [{ name: 'x-mse-tag', value: 'gray' }] },
    },
  },
});

/** Under /proxy: gray, with `x-env: canary` set, `x-trace: edge` added and `x-debug` removed. */
export const HEADER_CHANGES: Rule[] = [
  {
    lane: 'gray',
    matches: [{ path: { type: 'Prefix', value: '/proxy' } }],
    setHeaders: { 'x-env': 'canary' },
    addHeaders: { 'x-trace': 'edge' },
    removeHeaders: ['x-debug'],
  },
];

/** What the handler behind the edge saw; every server under test answers with it as JSON. */
export interface Seen {
  lane?: string;
  afterAwait?: string;
  tag?: string;
  baggage?: string;
  headers: IncomingHttpHeaders;
}

/**
 * The handler's answer: the lane it runs in, the lane after an await, and the request headers as
 * the edge left them. Call it from the handler itself, so it reads the handler's context.
 */
export async function seenInLane(headers: IncomingHttpHeaders): Promise<Seen> {
  const lane = currentLane();
  await sleep(1);
  return {
    lane,
    afterAwait: currentLane(),
    tag: headers['x-mse-tag'] as string | undefined,
    baggage: headers.baggage as string | undefined,
    headers,
  };
}

/** GETs `base + path`, expects 200 and returns what the handler saw. */
export async function getSeen(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Seen> {
  const res = await fetch(`${base}${path}`, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as Seen;
}

/** A framework adapter of the edge, and the framework versions it supports. */
export interface EdgeAdapter<Framework> {
  /** The factory's name, e.g. `'laneEdge'`. */
  readonly name: string;
  /** The factory; the suite calls it directly only to check setup errors. */
  create(options: EdgeOptions): unknown;
  /** Each version as the tests name it (`'express 5'`) and the framework's factory. */
  readonly versions: ReadonlyArray<readonly [name: string, framework: Framework]>;
  /**
   * Starts `framework` with the adapter's edge (`options`) in front of a handler answering
   * `seenInLane(request headers)`, on 127.0.0.1 port 0, closed in `t.after`. Resolves to
   * `http://127.0.0.1:<port>`.
   */
  start(t: TestContext, framework: Framework, options: EdgeOptions): Promise<string>;
}

type StartEdge = (t: TestContext, options: EdgeOptions) => Promise<string>;

/** Registers the edge conformance tests for `adapter`, each against every version it supports. */
export function edgeConformance<Framework>(adapter: EdgeAdapter<Framework>): void {
  for (const [name, framework] of adapter.versions) {
    edgeVersionConformance(name, (t, options) => adapter.start(t, framework, options));
  }

  test(`${adapter.name}: setup mistakes fail at once with typed errors`, () => {
    const create = adapter.create;
    assert.throws(() => create({ rules: [{ lane: 'a', weight: 200 }] }), InvalidRuleError);
    assert.throws(() => create({ rules: [], trust: 'sometimes' as never }), InvalidOptionError);
    assert.throws(
      () => create({ rules: [{ lane: 'gray', setHeaders: { 'X-Mse-Tag': 'blue' } }] }),
      (err: unknown) => err instanceof InvalidOptionError && err.path === 'rules[0].setHeaders.X-Mse-Tag',
    );
    assert.throws(
      () => create({ rules: [{ lane: 'gray', removeHeaders: ['x-mse-tag'] }] }),
      InvalidOptionError,
    );
    assert.throws(() => create(null as never), InvalidOptionError);
    assert.doesNotThrow(
      () => create({ rules: compileRules(KRUISE_CANARY) }),
      'a compiled rule set is accepted',
    );
  });
}

function edgeVersionConformance(name: string, start: StartEdge): void {
  test(`${name}: rules decide the lane, set headers, and the handler runs in the lane`, async (t) => {
    const base = await start(t, { rules: KRUISE_CANARY });
    const gray = await getSeen(base, '/a', { 'user-agent': 'foo' });
    assert.equal(gray.lane, 'gray');
    assert.equal(gray.afterAwait, 'gray', 'the lane survives awaits in the handler');
    assert.equal(gray.tag, 'gray', 'requestHeaderModifier set x-mse-tag on the request headers');
    const other = await getSeen(base, '/a', { 'user-agent': 'bar' });
    assert.equal(other.lane, undefined);
    assert.equal(other.tag, undefined);
  });

  test(`${name}: trust strip (the default): a client tag never walks into a lane; rules still decide`, async (t) => {
    const base = await start(t, { rules: KRUISE_CANARY });
    const forged = await getSeen(base, '/', {
      'x-mse-tag': 'unreleased',
      baggage: 'userId=7,x-mse-tag=unreleased',
    });
    assert.equal(forged.lane, undefined);
    assert.equal(forged.tag, undefined, 'the forged header was removed');
    assert.equal(forged.baggage, 'userId=7', 'the forged baggage entry was removed, the rest kept');
    const ruled = await getSeen(base, '/', { 'x-mse-tag': 'unreleased', 'user-agent': 'foo' });
    assert.equal(ruled.lane, 'gray');
    assert.equal(ruled.tag, 'gray');
  });

  test(`${name}: trust accept: a valid client tag wins over the rules; an invalid one is stripped`, async (t) => {
    const base = await start(t, { rules: KRUISE_CANARY, trust: 'accept' });
    const kept = await getSeen(base, '/', { 'x-mse-tag': 'blue', 'user-agent': 'foo' });
    assert.equal(kept.lane, 'blue');
    assert.equal(kept.tag, 'blue');
    const fromBaggage = await getSeen(base, '/', { baggage: 'x-mse-tag=blue' });
    assert.equal(fromBaggage.lane, 'blue');
    assert.equal(fromBaggage.tag, 'blue', 'the lane header is written for proxies');
    const invalid = await getSeen(base, '/', { 'x-mse-tag': '-not-a-lane-', 'user-agent': 'foo' });
    assert.equal(invalid.lane, 'gray', 'an invalid tag is ignored; the rules decide');
    assert.equal(invalid.tag, 'gray');
  });

  test(`${name}: trust allowlist: listed lanes are kept, others stripped`, async (t) => {
    const base = await start(t, { rules: KRUISE_CANARY, trust: { allowlist: ['qa'] } });
    assert.equal((await getSeen(base, '/', { 'x-mse-tag': 'qa' })).lane, 'qa');
    const other = await getSeen(base, '/', { 'x-mse-tag': 'gray-internal' });
    assert.equal(other.lane, undefined);
    assert.equal(other.tag, undefined);
  });

  test(`${name}: setHeaders, addHeaders and removeHeaders change the request headers`, async (t) => {
    const base = await start(t, { rules: HEADER_CHANGES });
    const seen = await getSeen(base, '/proxy/x', {
      'x-trace': 'client',
      'x-debug': '1',
      'x-mse-tag': 'forged',
    });
    assert.equal(seen.lane, 'gray');
    assert.equal(seen.headers['x-mse-tag'], 'gray');
    assert.equal(seen.headers['x-env'], 'canary');
    assert.equal(seen.headers['x-trace'], 'client, edge');
    assert.equal(seen.headers['x-debug'], undefined);
  });

  test(`${name}: decisions are counted at ingress and published on graylane:edge:decision`, async (t) => {
    resetIngressCounters();
    const messages: EdgeDecisionMessage[] = [];
    const onMessage = (message: unknown) => messages.push(message as EdgeDecisionMessage);
    diagnosticsChannel.subscribe('graylane:edge:decision', onMessage);
    t.after(() => diagnosticsChannel.unsubscribe('graylane:edge:decision', onMessage));
    const base = await start(t, { rules: KRUISE_CANARY, trust: { allowlist: ['qa'] } });
    await getSeen(base, '/', { 'user-agent': 'foo' });
    await getSeen(base, '/', { 'x-mse-tag': 'qa' });
    await getSeen(base, '/', {});
    assert.deepEqual(messages, [
      { lane: 'gray', rule: 0, name: 'kruise canary', source: 'rule', version: 1 },
      { lane: 'qa', rule: -1, name: undefined, source: 'client', version: 1 },
    ]);
    const counted = ingressCounters().requests;
    assert.equal(counted.gray, 1);
    assert.equal(counted.qa, 1);
    assert.equal(counted['(base)'], 1);
  });

  test(`${name}: bad requests never throw: huge headers, malformed cookies, bad percent-encoding`, async (t) => {
    const matching = [
      { lane: 'a', matches: [{ headers: [{ name: 'x-big', type: 'RegularExpression', value: '(a+)+b' }] }] },
      { lane: 'b', matches: [{ cookies: [{ name: 'k', value: 'v' }] }] },
      { lane: 'c', matches: [{ queryParams: [{ name: 'q', value: 'v' }] }] },
    ] satisfies Rule[];
    // Only match rules: no request here matches one, so none gets a lane.
    const rules = compileRules(matching);
    const base = await start(t, { rules });
    await getSeen(base, '/', { 'x-big': 'a'.repeat(12_000) });
    await getSeen(base, '/', { cookie: ';;=;k;=v;uid' });
    assert.equal((await getSeen(base, '/x?q=%zz&q=%E0%A4%A&%=%', {})).lane, undefined);
    assert.ok(rules.counters().malformedInputs >= 2);

    // The same requests with a 50% split sticky on a cookie as well: a lane may now be 'd'.
    const sticky = compileRules([...matching, { lane: 'd', weight: 50, sticky: { cookie: 'uid' } }]);
    const stickyBase = await start(t, { rules: sticky });
    await getSeen(stickyBase, '/', { 'x-big': 'a'.repeat(12_000) });
    await getSeen(stickyBase, '/', { cookie: ';;=;k;=v;uid' });
    const seen = await getSeen(stickyBase, '/x?q=%zz&q=%E0%A4%A&%=%', {});
    assert.ok(seen.lane === undefined || seen.lane === 'd');
    assert.ok(sticky.counters().malformedInputs >= 3);
    assert.ok(sticky.counters().oversizeInputs >= 1);
  });
}
