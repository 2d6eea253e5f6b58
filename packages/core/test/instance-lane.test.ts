import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  BASE_CONTEXT,
  backgroundLane,
  currentLane,
  currentLaneContext,
  enableInstanceLane,
  enablePropagation,
  instanceLane,
  readInstanceLane,
  setInstanceLane,
  withLane,
  withLaneContext,
} from '@graylane/core';
import { headerRecorder } from '../../../test/helpers/header-recorder';
import { listen } from '../../../test/helpers/listen';

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code);
    if (message !== undefined) assert.match((err as Error).message, message);
    return true;
  });
}

function labelsFile(t: { after(fn: () => void): void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-labels-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'labels');
  writeFileSync(file, text);
  return file;
}

test('readInstanceLane: option, then code, then GRAYLANE_LANE, then the labels file, else base', (t) => {
  const file = labelsFile(t, 'app="svc"\nopensergo.io/canary-blue="blue"\n');
  assert.equal(readInstanceLane({ env: {}, labelsFile: file }), 'blue');
  assert.equal(readInstanceLane({ env: { GRAYLANE_LANE: ' gray ' }, labelsFile: file }), 'gray');
  assert.equal(readInstanceLane({ lane: 'red', env: { GRAYLANE_LANE: 'gray' } }), 'red');
  assert.equal(readInstanceLane({ lane: null, env: { GRAYLANE_LANE: 'gray' }, labelsFile: file }), undefined);
  assert.equal(readInstanceLane({ env: {}, labelsFile: false }), undefined);
  assert.equal(readInstanceLane({ env: {}, labelsFile: join(file, 'missing') }), undefined);
  assert.equal(readInstanceLane({ env: {}, labelsFile: file, laneLabels: ['app'] }), 'svc');
  setInstanceLane('green');
  try {
    assert.equal(readInstanceLane({ env: { GRAYLANE_LANE: 'gray' } }), 'green');
    assert.equal(instanceLane(), 'green');
  } finally {
    setInstanceLane(undefined);
  }
  assert.equal(readInstanceLane({ env: { GRAYLANE_LANE: 'gray' } }), 'gray');
});

test('readInstanceLane: an invalid lane from any source is a typed error naming the source', (t) => {
  const file = labelsFile(t, 'alicloud.service.tag="-bad"\n');
  expectCode(
    () => readInstanceLane({ env: { GRAYLANE_LANE: 'gr ay' } }),
    'GL_ERR_INVALID_OPTION',
    /GRAYLANE_LANE/,
  );
  expectCode(
    () => readInstanceLane({ env: {}, labelsFile: file }),
    'GL_ERR_INVALID_OPTION',
    /alicloud\.service\.tag/,
  );
  expectCode(() => readInstanceLane({ lane: 'a/b' }), 'GL_ERR_INVALID_OPTION', /lane/);
  expectCode(() => setInstanceLane('a/b'), 'GL_ERR_INVALID_LANE');
});

test('enableInstanceLane: work outside any request runs in the instance lane; requests keep theirs', async (t) => {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
  const downstream = await headerRecorder(t);
  assert.equal(currentLane(), undefined, 'off by default');
  assert.equal(backgroundLane(), undefined);

  const handle = enableInstanceLane({ lane: 'gray' });
  t.after(() => {
    handle.disable();
    setInstanceLane(undefined);
  });
  assert.equal(handle.lane, 'gray');
  assert.equal(currentLane(), 'gray');
  assert.equal(currentLaneContext().lane, 'gray');
  assert.equal(backgroundLane(), 'gray');

  // An interval set at startup (no request context) calls downstream in the instance lane.
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      clearInterval(timer);
      fetch(downstream.url).then((r) => r.text().then(() => resolve()), reject);
    }, 1);
  });
  // A request's lane wins; an untagged request stays untagged; withLane(null) forces base.
  await withLane('blue', () => fetch(downstream.url).then((r) => r.text()));
  await withLaneContext(BASE_CONTEXT, () => fetch(downstream.url).then((r) => r.text()));
  await withLane(null, () => fetch(downstream.url).then((r) => r.text()));
  assert.deepEqual(
    downstream.seen.map((h) => h['x-mse-tag'] ?? null),
    ['gray', 'blue', null, null],
  );

  // An untagged inbound request (served through an HTTP server with no graylane middleware is
  // outside any request context; the adapters run untagged requests in BASE_CONTEXT).
  const server = createServer((_req, res) => {
    withLaneContext(BASE_CONTEXT, () => res.end(String(currentLane() ?? 'base')));
  });
  const port = await listen(server, t);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'base');

  setInstanceLane('green');
  assert.equal(currentLane(), 'green', 'setInstanceLane applies at once while on');
  handle.disable();
  assert.equal(currentLane(), undefined);
  assert.equal(backgroundLane(), undefined);
});
