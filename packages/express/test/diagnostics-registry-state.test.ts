// The diagnostics page shows each service's registry state — a broken instances file used to leave
// `lastError` in the JSON while the HTML showed a normal routing table and nothing was logged —
// logs registry failures with that state through the logger hook, and is served without Express
// by diagnosticsHandler() (issue 16, item 7), with each instance's lane label (item 3).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LaneLogRecord } from '@graylane/core';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { type DiagnosticsReport, diagnosticsHandler, diagnosticsRouter } from '@graylane/express';
import express from 'express';
import { listen } from '../../../test/helpers/listen';

const WAIT_MS = 20_000;

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a broken instances file: the page shows the service stale since the failure, the logger gets it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-diag-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'instances.json');
  writeFileSync(
    file,
    JSON.stringify({
      b: [
        { id: 'b-stable', host: '127.0.0.1', port: 1 },
        { id: 'b-gray', host: '127.0.0.1', port: 2, labels: { 'alicloud.service.tag': 'gray' } },
        { id: 'b-oops', host: '127.0.0.1', port: 3, labels: { lane: 'gray' } },
      ],
    }),
  );
  const registry = staticRegistry({ file, env: false, debounceMs: 10, pollIntervalMs: 50 });
  const discovery = createDiscovery({ registry });
  t.after(async () => {
    discovery.close();
    await registry.close();
  });
  const logged: LaneLogRecord[] = [];
  const app = express();
  app.use('/graylane', diagnosticsRouter({ discovery, logger: (record) => logged.push(record) }));
  const port = await listen(createServer(app), t);
  const base = `http://127.0.0.1:${port}/graylane`;
  const json = async () => (await (await fetch(`${base}/graylane.json`)).json()) as DiagnosticsReport;
  const html = async () => (await fetch(`${base}/graylane.html`)).text();

  await discovery.ready('b');
  let report = await json();
  assert.deepEqual(
    report.discovery!.services.map((s) => [s.service, s.state, s.staleSince, s.lastError]),
    [['b', 'loaded', null, null]],
  );
  const page = await html();
  assert.ok(!page.includes('registry-alert'), 'no alert while the registry delivers');
  assert.match(page, /<td>b<\/td><td>loaded<\/td>/);
  // Which label gave each lane, and the label that looks like one but is not configured.
  assert.match(page, /<td>gray<\/td><td>b-gray<\/td>.*<td>alicloud\.service\.tag<\/td><\/tr>/);
  assert.match(
    page,
    /<td>\(base\)<\/td><td>b-oops<\/td>.*<td>none \(WARNING: &quot;lane&quot; looks like a lane label but is not configured\)<\/td><\/tr>/,
  );
  const oops = report.routingTable.find((r) => r.id === 'b-oops')!;
  assert.equal(oops.unconfiguredLaneLabel, 'lane');

  writeFileSync(file, '{ "b": [ { "id": "b-stable", "host": ');
  await until('the registry failure', () => discovery.snapshot().services.b!.lastError !== null);
  report = await json();
  const [row] = report.discovery!.services;
  assert.equal(row!.state, 'stale');
  assert.ok(row!.staleSince !== null && row!.updatedAt !== null && row!.staleSince >= row!.updatedAt);
  assert.match(row!.lastError!, /instances\.json/);
  assert.equal(row!.lastErrorCode, 'GL_ERR_REGISTRY_UNAVAILABLE');
  assert.equal(report.routingTable.length, 3, 'the last good set stays in use');

  const stalePage = await html();
  assert.match(stalePage, /id="registry-alert">Registry failing for b:/);
  assert.match(
    stalePage,
    /<td>b<\/td><td>stale<\/td><td>[^<]+<\/td><td>[^<]+<\/td><td>[^<]*GL_ERR_REGISTRY_UNAVAILABLE[^<]*instances\.json/,
  );

  await until('the log record', () => logged.length > 0);
  const record = logged[0]!;
  assert.equal(record.level, 'error');
  assert.equal(record.event, 'registry-error');
  assert.equal(record.attributes['graylane.service'], 'b');
  assert.equal(record.attributes['graylane.registry_state'], 'stale');
  assert.equal(record.attributes['graylane.stale_since'], row!.staleSince);
  assert.match(record.message, /^registry static failed for b: .*; stale since \S+, serving the set of \S+$/);

  // Repaired: loaded again, no alert; the last error stays visible.
  writeFileSync(file, JSON.stringify({ b: [{ id: 'b-stable', host: '127.0.0.1', port: 1 }] }));
  await until('the repaired set', () => discovery.snapshot().services.b!.staleSince === null);
  report = await json();
  assert.equal(report.discovery!.services[0]!.state, 'loaded');
  assert.notEqual(report.discovery!.services[0]!.lastError, null);
  assert.ok(!(await html()).includes('registry-alert'));
});

test('diagnosticsHandler(): the page on plain node:http, 404 elsewhere; uncalled, it says what to write', async (t) => {
  const registry = staticRegistry({ env: false, instances: [{ service: 'b', host: '127.0.0.1', port: 1 }] });
  const discovery = createDiscovery({ registry });
  t.after(async () => {
    discovery.close();
    await registry.close();
  });
  await discovery.ready('b');
  const port = await listen(createServer(diagnosticsHandler({ discovery, title: 'grpc-only' })), t);
  const res = await fetch(`http://127.0.0.1:${port}/graylane.json`);
  assert.equal(res.status, 200);
  const report = (await res.json()) as DiagnosticsReport;
  assert.equal(report.title, 'grpc-only');
  assert.deepEqual(
    report.routingTable.map((r) => r.address),
    ['127.0.0.1:1'],
  );
  const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: 'text/html' } });
  assert.match(await page.text(), /<h2>Registry<\/h2>/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);

  const wrong = await listen(
    createServer(diagnosticsHandler as unknown as Parameters<typeof createServer>[1] & object),
    t,
  );
  const bad = await fetch(`http://127.0.0.1:${wrong}/`);
  assert.equal(bad.status, 500);
  assert.match(
    await bad.text(),
    /GL_ERR_FACTORY_NOT_CALLED: .*write createServer\(diagnosticsHandler\(\{ discovery \}\)\)/,
  );
});
