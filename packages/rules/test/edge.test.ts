// compileEdge on a plain node:http server: what settle() returns (shared, frozen, per lane and
// version), the version switching with live rules, carrierDropped, runInLane, observeEdgeOutcome.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type TestContext, test } from 'node:test';
import { currentLane, InvalidOptionError } from '@graylane/core';
import {
  type CompiledEdge,
  compileEdge,
  liveRules,
  observeEdgeOutcome,
  type RuleSetProvider,
  ruleSetVersionOf,
  type SettledLane,
} from '@graylane/rules';
import { listen } from '../../../test/helpers/listen';

interface Seen {
  readonly settled: SettledLane;
  readonly version: number | undefined;
  readonly lane: string | undefined;
  readonly tag: string | string[] | undefined;
}

async function edgeServer(t: TestContext, edge: CompiledEdge): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const settled = edge.settle(req);
    observeEdgeOutcome(res, edge.rules, settled.lane);
    edge.runInLane(settled, req, res, () => {
      seen.push({
        settled,
        version: ruleSetVersionOf(req),
        lane: currentLane(),
        tag: req.headers['x-mse-tag'],
      });
      res.statusCode = req.url === '/fail' ? 503 : 200;
      res.end();
    });
  });
  return { port: await listen(server, t), seen };
}

async function get(port: number, headers: Record<string, string> = {}, path = '/'): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await res.arrayBuffer();
}

test('settle(): the lane, the version and carrierDropped, as one shared frozen object per lane and version', async (t) => {
  const rules = liveRules({
    rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'user-agent', value: 'foo' }] }] }],
  });
  const edge = compileEdge({ rules });
  const { port, seen } = await edgeServer(t, edge);
  await get(port, { 'user-agent': 'foo' });
  await get(port, { 'user-agent': 'foo' });
  await get(port, { 'user-agent': 'bar' });
  await get(port, { 'user-agent': 'bar', 'x-mse-tag': 'forged' });
  const [a, b, base, forged] = seen;
  assert.deepEqual(
    seen.map((s) => [
      s.settled.lane,
      s.settled.ruleSetVersion,
      s.settled.carrierDropped,
      s.version,
      s.lane,
      s.tag,
    ]),
    [
      ['gray', 1, false, 1, 'gray', 'gray'],
      ['gray', 1, false, 1, 'gray', 'gray'],
      [undefined, 1, false, 1, undefined, undefined],
      [undefined, 1, true, 1, undefined, undefined],
    ],
  );
  assert.equal(a!.settled, b!.settled, 'the same lane and version settle to the same object');
  assert.notEqual(base!.settled, forged!.settled);
  assert.ok(Object.isFrozen(a!.settled));

  rules.update([{ lane: 'blue', matches: [{ headers: [{ name: 'user-agent', value: 'foo' }] }] }]);
  await get(port, { 'user-agent': 'foo' });
  const switched = seen.at(-1)!;
  assert.deepEqual(
    [switched.settled.lane, switched.settled.ruleSetVersion, switched.version],
    ['blue', 2, 2],
  );
});

test('observeEdgeOutcome: a provider with observe() hears each response; one without is left alone', async (t) => {
  const inner = liveRules({
    rules: [{ lane: 'gray', matches: [{ path: { type: 'Prefix', value: '/f' } }] }],
  });
  const heard: Array<[string | undefined, number]> = [];
  const provider: RuleSetProvider = {
    get current() {
      return inner.current;
    },
    addCheck: (check) => inner.addCheck(check),
    observe: (lane, status) => {
      heard.push([lane, status]);
    },
  };
  const { port } = await edgeServer(t, compileEdge({ rules: provider }));
  await get(port, {}, '/fail');
  await get(port, {}, '/');
  const deadline = Date.now() + 20_000;
  while (heard.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(heard, [
    ['gray', 503],
    [undefined, 200],
  ]);
  const res = { once: () => assert.fail('no listener for a provider without observe') };
  observeEdgeOutcome(res as unknown as ServerResponse, inner, 'gray');
});

test('compileEdge: setup mistakes throw typed errors; close() stops only a source it wrapped', async () => {
  assert.throws(() => compileEdge(null as never), InvalidOptionError);
  assert.throws(
    () => compileEdge({ rules: [{ lane: 'gray', setHeaders: { 'x-mse-tag': 'blue' } }] }),
    (err: unknown) => err instanceof InvalidOptionError && err.path === 'rules[0].setHeaders.x-mse-tag',
  );
  const given = liveRules({ rules: [] });
  const edge = compileEdge({ rules: given });
  assert.equal(edge.rules, given);
  await edge.close();
  given.update([{ lane: 'gray' }]);
  assert.equal(given.current.version, 2, 'a provider the caller gave stays open');
});
