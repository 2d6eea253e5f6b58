// A browser check: the diagnostics pages of the running full-chain demo, rendered by headless
// Chromium (Debian `chromium`), show the routing table. Chromium opens the URL the demo prints
// (`/graylane/`), so this also covers the content negotiation a browser goes through. Skipped with
// a message when Chromium is not installed (CI installs it: .ci/run).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDemo } from '../examples/full-chain/demo';
import { startChain } from '../examples/full-chain/launcher';

/** One page must render within this (a cold Chromium start takes about a second here). */
const RENDER_TIMEOUT_MS = 20_000;

function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_BIN, 'chromium', 'chromium-browser', 'google-chrome'];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const found = spawnSync('sh', ['-c', `command -v "${candidate}"`], { encoding: 'utf8' });
    if (found.status === 0) return found.stdout.trim();
  }
  return undefined;
}

/** The DOM after Chromium loaded and rendered `url` (`--dump-dom`), with a fresh profile. */
async function renderedDom(chromium: string, url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'graylane-chromium-'));
  const child = spawn(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--dump-dom',
      url,
    ],
    // Its own process group, so a timeout can stop Chromium's helper processes too.
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let dom = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    dom += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), RENDER_TIMEOUT_MS);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    assert.equal(code, 0, `chromium exited ${signal ?? code} for ${url}:\n${stderr}`);
    return dom;
  } finally {
    clearTimeout(timer);
    rmSync(profile, { recursive: true, force: true });
  }
}

const chromium = findChromium();

test('headless Chromium renders the routing table of the running demo', {
  skip:
    chromium === undefined
      ? 'chromium not installed (apt-get install -y chromium, or set CHROMIUM_BIN); CI installs it'
      : false,
}, async (t) => {
  const chain = await startChain({ registry: 'static' });
  t.after(() => chain.stop());
  const result = await runDemo(chain);
  assert.ok(result.ok, JSON.stringify(result.checks));

  const started = Date.now();
  const edge = await renderedDom(chromium!, chain.processes.get('edge')!.diagnostics);
  const aGray = await renderedDom(chromium!, chain.processes.get('a-gray')!.diagnostics);
  t.diagnostic(`chromium rendered 2 pages in ${Date.now() - started} ms`);

  const port = (id: string) => chain.processes.get(id)!.port;
  // The edge routes to svc-a: both instances, with their lanes and addresses.
  assert.match(edge, /<table id="routing-table">/);
  assert.match(
    edge,
    new RegExp(
      `<tr><td>svc-a</td><td>\\(base\\)</td><td>a-stable</td><td>127\\.0\\.0\\.1:${port('a-stable')}</td><td>100</td><td>true</td>`,
    ),
  );
  assert.match(
    edge,
    new RegExp(`<tr><td>svc-a</td><td>gray</td><td>a-gray</td><td>127\\.0\\.0\\.1:${port('a-gray')}</td>`),
  );
  assert.match(edge, /<td>kruise canary[^<]*<\/td><td>gray<\/td><td>header User-Agent = "foo"<\/td>/);
  assert.match(edge, /<tr><td>gray<\/td><td>7<\/td><td>0<\/td><\/tr>/, 'gray requests counted at the edge');
  // a-gray routes to svc-b, which has no gray instance: its gray calls fell back to base.
  assert.match(
    aGray,
    new RegExp(
      `<tr><td>svc-b</td><td>\\(base\\)</td><td>b-stable</td><td>127\\.0\\.0\\.1:${port('b-stable')}</td>`,
    ),
  );
  assert.match(aGray, /<table id="fallbacks">.*<tr><td>svc-b<\/td><td>gray<\/td><td>\(base\)<\/td>/s);
});
