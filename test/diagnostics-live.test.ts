// The diagnostics page shows live rule sets (version, source, last reload, last error) and release
// plans (step, weight, analysis figures, abort reason); the admin endpoint needs its token.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidOptionError } from '@graylane/core';
import { type DiagnosticsReport, diagnosticsRouter, laneEdge, planAdminRouter } from '@graylane/express';
import { fileRuleSource, liveRules, releasePlan } from '@graylane/rules';
import express from 'express';
import { Pool } from 'undici';
import { listen } from './helpers/listen';
import { until } from './helpers/live-edge';

test('live rules and a release plan on the diagnostics page, JSON and HTML', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-diag-live-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.json');
  const write = (text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  write(JSON.stringify([{ lane: 'blue', matches: [{ headers: [{ name: 'x-blue', type: 'Present' }] }] }]));
  const live = liveRules({ source: fileRuleSource({ path: file, debounceMs: 10, pollIntervalMs: 100 }) });
  const plan = releasePlan({
    name: 'checkout',
    lane: 'gray',
    tickIntervalMs: 10,
    steps: [{ setWeight: 30 }, { pause: {} }],
    analysis: { minRequests: 20, maxErrorRatio: 0.1 },
  });
  t.after(() => Promise.all([live.close(), plan.close()]));
  await Promise.all([live.ready(), plan.ready()]);

  const app = express();
  app.use('/graylane', diagnosticsRouter({ live: { rules: live, plans: plan }, title: 'edge' }));
  app.use('/admin', planAdminRouter({ plans: plan, token: 'a-long-enough-admin-token' }));
  app.use(laneEdge({ rules: plan }));
  app.get('/', (_req, res) => res.status(500).end());
  const port = await listen(createServer(app), t);
  const pool = new Pool(`http://127.0.0.1:${port}`);
  t.after(() => pool.close());
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await pool.request({ method: 'GET', path, headers });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const report = async () => JSON.parse((await get('/graylane/graylane.json')).text) as DiagnosticsReport;

  write('[{ "lane": "blue", "weight": 101 }]');
  await until('the rejection', () => live.status().rejected === 1);
  let r = await report();
  const row = r.live!.rules[0]!;
  assert.equal(row.source, `file:${file}`);
  assert.equal(row.version, 2);
  assert.equal(row.rejected, 1);
  assert.match(row.lastError ?? '', /^GL_ERR_INVALID_RULE: Invalid rule rules\[0\]\.weight/);
  assert.equal(r.live!.plans[0]!.weight, 30);
  assert.equal(r.live!.plans[0]!.phase, 'Paused');
  assert.equal(r.rules?.rules[0]?.lane, 'blue', 'without `rules`, the table shows the live set in force');

  // Requests all fail: 30% of them are gray, and the analysis aborts after 20 gray requests.
  for (let i = 0; i < 200 && plan.status().phase !== 'Aborted'; i++) await get('/', { 'x-user': `u${i}` });
  await until('the abort', () => plan.status().phase === 'Aborted');
  r = await report();
  const p = r.live!.plans[0]!;
  assert.equal(p.weight, 0);
  // Judged every tickIntervalMs (10 ms): a request or two may land between two judgements.
  assert.match(p.abortReason ?? '', /^analysis: gray 5xx ratio 100\.00% > 10\.00% over 2\d requests$/);
  assert.ok(p.analysis.runLane.requests >= 20);
  assert.equal(p.analysis.runLane.errorRatio, 1);
  const html = (await get('/graylane/graylane.html')).text;
  assert.match(html, /<h2>Live rule sets<\/h2>/);
  assert.match(html, /<h2>Release plan checkout<\/h2>/);
  assert.match(html, /analysis: gray 5xx ratio 100\.00%/);

  // Admin endpoint: token required, unknown plans/actions fall through, wrong methods refused.
  assert.equal((await get('/admin/checkout')).status, 401);
  assert.equal(
    (await get('/admin/checkout', { authorization: 'Bearer a-long-enough-admin-tokeN' })).status,
    401,
  );
  const auth = { authorization: 'Bearer a-long-enough-admin-token' };
  assert.equal(JSON.parse((await get('/admin/checkout', auth)).text).phase, 'Aborted');
  assert.equal((await get('/admin/checkout/retry', auth)).status, 405);
  assert.equal((await get('/admin/nope', auth)).status, 404);
  const retried = await pool.request({ method: 'POST', path: '/admin/checkout/retry', headers: auth });
  assert.equal(retried.statusCode, 200);
  assert.equal(((await retried.body.json()) as { weight: number }).weight, 30);
});

test('planAdminRouter refuses to start without a real token', () => {
  const plan = releasePlan({ name: 'x', lane: 'gray', steps: [{ setWeight: 1 }] });
  assert.throws(() => planAdminRouter({ plans: plan, token: '' }), InvalidOptionError);
  assert.throws(() => planAdminRouter({ plans: plan, token: 'short' }), InvalidOptionError);
  assert.throws(() => planAdminRouter({ plans: plan } as never), InvalidOptionError);
  void plan.close();
});
