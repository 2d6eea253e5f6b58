// laneFastifyEdge with live rules: a `liveRules()` provider and a file source switch the decision
// and the version each request reports; a provider that observes (a release plan) is told each
// response's lane and status; a source the edge wrapped itself closes with the Fastify instance.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { currentLane } from '@graylane/core';
import { type LaneFastifyEdgeOptions, laneFastifyEdge } from '@graylane/fastify';
import {
  fileRuleSource,
  LiveRules,
  liveRules,
  type Rule,
  type RuleSetProvider,
  ruleSetVersionOf,
} from '@graylane/rules';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';

const GRAY_FOR_FOO: Rule[] = [
  { lane: 'gray', matches: [{ headers: [{ name: 'user-agent', value: 'foo' }] }] },
];

interface Answer {
  readonly lane: string | undefined;
  readonly version: number | undefined;
  readonly status: number;
}

type Factory = typeof fastify5;

async function liveServer(
  t: TestContext,
  options: LaneFastifyEdgeOptions,
  make: Factory = fastify5,
): Promise<{ base: string; close(): Promise<void> }> {
  const app = make();
  app.register(laneFastifyEdge(options));
  app.get('/', async (request, reply) => {
    reply.header('x-rules-version', String(ruleSetVersionOf(request.raw)));
    return { lane: currentLane() ?? null };
  });
  app.get('/fail', async (_request, reply) => reply.code(503).send({ lane: currentLane() ?? null }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  t.after(close);
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close };
}

async function ask(base: string, path = '/', userAgent = 'foo'): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { headers: { 'user-agent': userAgent } });
  const body = (await res.json()) as { lane: string | null };
  const version = res.headers.get('x-rules-version');
  return {
    lane: body.lane ?? undefined,
    version: version === null ? undefined : Number(version),
    status: res.status,
  };
}

/** Polls `check` every 10 ms until it holds; throws after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const [name, make] of [
  ['fastify 5', fastify5],
  ['fastify 4', fastify4 as unknown as Factory],
] as const) {
  test(`${name}: a liveRules() provider switches the decision and the version per request`, async (t) => {
    const rules = liveRules({ rules: [] });
    const { base } = await liveServer(t, { rules }, make);
    assert.deepEqual(await ask(base), { lane: undefined, version: 1, status: 200 });
    rules.update(GRAY_FOR_FOO);
    assert.deepEqual(await ask(base), { lane: 'gray', version: 2, status: 200 });
    assert.deepEqual(await ask(base, '/', 'bar'), { lane: undefined, version: 2, status: 200 });
    rules.update([]);
    assert.deepEqual(await ask(base), { lane: undefined, version: 3, status: 200 });
  });
}

test('a file source: a rewrite of the file switches the decision and the version; app.close() stops it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-fastify-edge-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.json');
  const write = (rules: Rule[]) => {
    writeFileSync(`${file}.tmp`, JSON.stringify({ rules }));
    renameSync(`${file}.tmp`, file);
  };
  write([]);
  const plugin = laneFastifyEdge({
    rules: fileRuleSource({ path: file, debounceMs: 20, pollIntervalMs: 200 }),
  });
  assert.ok(plugin.rules instanceof LiveRules, 'the edge wraps the source in liveRules()');
  const app = fastify5();
  app.register(plugin);
  app.get('/', async (request) => ({ lane: currentLane() ?? null, version: ruleSetVersionOf(request.raw) }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const first = await (plugin.rules as LiveRules).ready();
  const get = async () =>
    (await (await fetch(base, { headers: { 'user-agent': 'foo' } })).json()) as {
      lane: string | null;
      version: number;
    };
  assert.deepEqual(await get(), { lane: null, version: first.version });

  write(GRAY_FOR_FOO);
  await until('the reload to the gray rule', () => plugin.rules.current.version > first.version);
  const second = plugin.rules.current.version;
  assert.deepEqual(await get(), { lane: 'gray', version: second });

  await app.close();
  write([]);
  // A closed source reloads nothing more: wait past several debounce and poll periods.
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(plugin.rules.current.version, second, 'app.close() closed the source the edge made');
});

test('a provider that observes (a release plan) is told each response: its lane and status', async (t) => {
  const inner = liveRules({ rules: GRAY_FOR_FOO });
  const seen: Array<[string | undefined, number]> = [];
  const observing: RuleSetProvider = {
    get current() {
      return inner.current;
    },
    addCheck: (check) => inner.addCheck(check),
    observe(lane, status, durationMs) {
      assert.ok(durationMs >= 0);
      seen.push([lane, status]);
    },
  };
  const { base } = await liveServer(t, { rules: observing });
  assert.equal((await ask(base, '/', 'foo')).lane, 'gray');
  assert.equal((await ask(base, '/fail', 'foo')).status, 503);
  assert.equal((await ask(base, '/', 'bar')).lane, undefined);
  await until('three observed outcomes', () => seen.length === 3);
  assert.deepEqual(seen, [
    ['gray', 200],
    ['gray', 503],
    [undefined, 200],
  ]);
});
