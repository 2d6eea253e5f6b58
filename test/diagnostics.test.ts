// diagnosticsRouter(): after a known sequence of requests through an edge (laneEdge + discovery),
// the JSON report shows the routing table, the rules in force with their hits, and counters per
// lane (requests, fallbacks by service and from -> to lane, invalid tags dropped); the HTML page
// shows the same, escaped. Counters are process-wide, and node:test runs each file in its own
// process, so this file owns them.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type TestContext, test } from 'node:test';
import { resetIngressCounters } from '@graylane/core';
import { createDiscovery, type Discovery, staticRegistry } from '@graylane/discovery';
import { laneDispatcher } from '@graylane/discovery/undici';
import { type DiagnosticsReport, diagnosticsReport, diagnosticsRouter, laneEdge } from '@graylane/express';
import { compileRules, type Rule } from '@graylane/rules';
import express from 'express';
import express4 from 'express4';
import { request } from 'undici';
import { listen } from './helpers/listen';

const RULES: Rule[] = [
  {
    name: 'testers',
    lane: 'gray',
    matches: [{ headers: [{ name: 'User-Agent', type: 'Exact', value: 'foo' }] }],
    setHeaders: { 'x-mse-tag': 'gray' },
  },
  {
    name: 'users 30%',
    lane: 'gray',
    matches: [{ headers: [{ name: 'x-user-id', type: 'Present' }] }],
    weight: 30,
    sticky: { header: 'x-user-id' },
  },
];

/** An upstream instance answering with its id. */
async function instance(id: string, t: TestContext): Promise<number> {
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id }));
  });
  return listen(server, t);
}

async function startEdge(t: TestContext, options: { title?: string } = {}) {
  const [aStable, cStable, cGray] = await Promise.all([
    instance('a-stable', t),
    instance('c-stable', t),
    instance('c-gray', t),
  ]);
  const registry = staticRegistry({
    env: false,
    instances: [
      { service: 'svc-a', id: 'a-stable', host: '127.0.0.1', port: aStable },
      { service: 'svc-c', id: 'c-stable', host: '127.0.0.1', port: cStable },
      { service: 'svc-c', id: 'c-sick', host: '127.0.0.1', port: 9, healthy: false, weight: 50 },
      {
        service: 'svc-c',
        id: 'c-gray',
        host: '127.0.0.1',
        port: cGray,
        labels: { 'alicloud.service.tag': 'gray' },
      },
    ],
  });
  const discovery: Discovery = createDiscovery({ registry });
  await Promise.all([discovery.ready('svc-a'), discovery.ready('svc-c')]);
  const dispatcher = laneDispatcher({ discovery });
  t.after(async () => {
    await dispatcher.close();
    discovery.close();
    await registry.close();
  });
  const rules = compileRules(RULES);
  const trust = { allowlist: ['gray'] };
  const app = express();
  app.use('/graylane', diagnosticsRouter({ discovery, rules, trust, title: options.title ?? 'edge' }));
  app.use(laneEdge({ rules, trust }));
  app.get('/', async (_req, res, next) => {
    try {
      const walk: string[] = [];
      for (const service of ['svc-a', 'svc-c']) {
        const { body } = await request(`http://${service}/`, { dispatcher });
        walk.push(((await body.json()) as { id: string }).id);
      }
      res.json(walk);
    } catch (error) {
      next(error);
    }
  });
  const base = `http://127.0.0.1:${await listen(createServer(app), t)}`;
  return { base, discovery, rules };
}

async function walk(base: string, headers: Record<string, string>): Promise<string[]> {
  const res = await fetch(`${base}/`, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as string[];
}

test('the JSON report after a known sequence: lanes, counts, fallbacks, rule hits, invalid tags', async (t) => {
  resetIngressCounters();
  const { base } = await startEdge(t);
  // Before any request: tables are there, nothing is counted.
  const empty = (await (await fetch(`${base}/graylane/graylane.json`)).json()) as DiagnosticsReport;
  assert.deepEqual(empty.counters.lanes, []);
  assert.deepEqual(empty.counters.fallbacks, []);

  assert.deepEqual(await walk(base, {}), ['a-stable', 'c-stable']);
  assert.deepEqual(await walk(base, { 'x-mse-tag': 'gray' }), ['a-stable', 'c-gray']); // trusted
  assert.deepEqual(await walk(base, { 'user-agent': 'foo' }), ['a-stable', 'c-gray']); // rule 0
  assert.deepEqual(await walk(base, { 'x-mse-tag': '-bad' }), ['a-stable', 'c-stable']); // invalid
  assert.deepEqual(await walk(base, { 'x-mse-tag': 'feature-x' }), ['a-stable', 'c-stable']); // not allowlisted

  const res = await fetch(`${base}/graylane/graylane.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const report = (await res.json()) as DiagnosticsReport;

  assert.equal(report.title, 'edge');
  assert.equal(report.pid, process.pid);
  // Diagnostics requests are not counted: the router is mounted before laneEdge.
  assert.deepEqual(report.counters.lanes, [
    { lane: null, requests: 3, fallbacks: 0 },
    { lane: 'gray', requests: 2, fallbacks: 2 },
  ]);
  assert.deepEqual(report.counters.requests, { '(base)': 3, gray: 2 });
  assert.deepEqual(report.counters.fallbacks, [{ service: 'svc-a', from: 'gray', to: null, calls: 2 }]);
  assert.equal(report.counters.invalidTags?.grammar, 1);
  assert.equal(report.counters.invalidTags?.total, 1);
  assert.equal(report.counters.invalidLanePicks, 0);

  const rows = report.routingTable
    .map((r) => [r.service, r.lane, r.id, r.weight, r.healthy, r.picks])
    .sort((a, b) => JSON.stringify(a.slice(0, 3)).localeCompare(JSON.stringify(b.slice(0, 3))));
  assert.deepEqual(rows, [
    ['svc-a', null, 'a-stable', 100, true, 5],
    ['svc-c', 'gray', 'c-gray', 100, true, 2],
    ['svc-c', null, 'c-sick', 50, false, 0],
    ['svc-c', null, 'c-stable', 100, true, 3],
  ]);
  for (const row of report.routingTable) assert.match(row.address, /^127\.0\.0\.1:\d+$/);

  const routeOf = (service: string, lane: string | null) =>
    report.routes.find((r) => r.service === service && r.lane === lane);
  assert.deepEqual(routeOf('svc-a', 'gray'), {
    service: 'svc-a',
    lane: 'gray',
    servedBy: null,
    fallback: true,
    noInstance: 0,
  });
  assert.equal(routeOf('svc-c', 'gray')?.servedBy, 'gray');
  assert.equal(routeOf('svc-c', 'gray')?.fallback, false);

  assert.deepEqual(report.rules, {
    trust: 'allowlist: gray',
    rules: [
      {
        index: 0,
        name: 'testers',
        lane: 'gray',
        matches: 'header User-Agent = "foo"',
        weight: 100,
        sticky: null,
        headers: 'set x-mse-tag: gray',
        hits: 1,
      },
      {
        index: 1,
        name: 'users 30%',
        lane: 'gray',
        matches: 'header x-user-id present',
        weight: 30,
        sticky: 'header x-user-id',
        headers: null,
        hits: 0,
      },
    ],
    // untagged, invalid tag and feature-x reached the rules; the trusted gray tag did not.
    noMatch: 3,
    malformedInputs: 0,
    oversizeInputs: 0,
    invalidInputs: 0,
  });
  assert.equal(report.discovery?.registry, 'static');
  assert.deepEqual(
    report.discovery?.services.map((s) => [s.service, s.loaded, s.lastError]),
    [
      ['svc-a', true, null],
      ['svc-c', true, null],
    ],
  );
});

test('the routes: / negotiates, named files are fixed, HEAD, 405, other paths fall through', async (t) => {
  const { base } = await startEdge(t);
  const html = await fetch(`${base}/graylane`, { headers: { accept: 'text/html,*/*;q=0.8' } });
  assert.match(html.headers.get('content-type')!, /^text\/html/);
  assert.match(html.headers.get('content-security-policy')!, /default-src 'none'/);
  const page = await html.text();
  assert.match(page, /<table id="routing-table">/);
  assert.match(page, /<a href="\/graylane\/graylane\.json">JSON<\/a>/);

  const json = await fetch(`${base}/graylane/`);
  assert.match(json.headers.get('content-type')!, /^application\/json/);
  await json.arrayBuffer();
  const forced = await fetch(`${base}/graylane/?format=html`);
  assert.match(forced.headers.get('content-type')!, /^text\/html/);
  await forced.arrayBuffer();
  const fixed = await fetch(`${base}/graylane/graylane.html`);
  assert.match(fixed.headers.get('content-type')!, /^text\/html/);
  await fixed.arrayBuffer();

  const head = await fetch(`${base}/graylane/graylane.json`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.ok(Number(head.headers.get('content-length')) > 0);
  assert.equal(await head.text(), '');

  const post = await fetch(`${base}/graylane/graylane.json`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.arrayBuffer();

  const other = await fetch(`${base}/graylane/nope`);
  assert.equal(other.status, 404, 'unknown paths go to next()');
  await other.arrayBuffer();
});

test('the HTML page lists the routing table, rules and counters, and escapes every value', async (t) => {
  resetIngressCounters();
  const hostile = '<img src=x onerror="alert(1)">';
  const { base } = await startEdge(t, { title: hostile });
  await walk(base, { 'user-agent': 'foo' });
  await walk(base, { 'x-mse-tag': `<script>alert('x')</script>` });
  const page = await (await fetch(`${base}/graylane/graylane.html`)).text();

  assert.ok(!page.includes('<img'), 'the title is escaped');
  assert.ok(!page.includes('<script'), 'no script, not even a hostile one');
  assert.match(page, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
  assert.match(
    page,
    /<td>svc-a<\/td><td>\(base\)<\/td><td>a-stable<\/td><td>127\.0\.0\.1:\d+<\/td><td>100<\/td><td>true<\/td><td>2<\/td>/,
  );
  assert.match(page, /<td>svc-c<\/td><td>gray<\/td><td>c-gray<\/td>/);
  assert.match(page, /<td>header User-Agent = &quot;foo&quot;<\/td>/);
  assert.match(page, /<td>svc-a<\/td><td>gray<\/td><td>\(base\)<\/td><td>1<\/td>/, 'fallback row');
  assert.match(page, /<td>grammar<\/td><td>1<\/td>/);
  assert.match(page, /trust: <code>allowlist: gray<\/code>/);
  assert.ok(!/https?:\/\//.test(page), 'self-contained: no external URL');
});

test('Express 4 mounts it the same way; without discovery or rules it shows the counters', async (t) => {
  resetIngressCounters();
  const app = express4();
  app.use('/admin/graylane', diagnosticsRouter({ counters: true }));
  const base = `http://127.0.0.1:${await listen(createServer(app), t)}`;
  const report = (await (await fetch(`${base}/admin/graylane/graylane.json`)).json()) as DiagnosticsReport;
  assert.equal(report.title, 'graylane');
  assert.equal(report.discovery, null);
  assert.equal(report.rules, null);
  assert.deepEqual(report.routingTable, []);
  assert.deepEqual(report.counters.requests, {});
  const page = await (await fetch(`${base}/admin/graylane/graylane.html`)).text();
  assert.match(page, /no discovery given/);
  assert.match(page, /href="\/admin\/graylane\/graylane\.json"/);
});

test('diagnosticsReport() builds the same report without a server; counters: false leaves them out', () => {
  resetIngressCounters();
  const rules = compileRules(RULES);
  rules.decide({ headers: { 'user-agent': 'foo' } });
  const report = diagnosticsReport({ rules, counters: false, trust: 'strip' });
  assert.equal(report.rules?.trust, 'strip');
  assert.equal(report.rules?.rules[0]?.hits, 1);
  assert.equal(report.counters.requests, null);
  assert.equal(report.counters.invalidTags, null);
});

test('bad options are typed errors at setup', () => {
  for (const options of [
    { discovery: {} },
    { rules: [] },
    { trust: 'maybe' },
    { title: 3 },
    { counters: 'yes' },
    { refreshSeconds: -1 },
  ]) {
    assert.throws(
      () => diagnosticsRouter(options as never),
      { code: 'GL_ERR_INVALID_OPTION' },
      JSON.stringify(options),
    );
  }
});
