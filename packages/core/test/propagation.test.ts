import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import { test } from 'node:test';
import {
  enablePropagation,
  type InjectMessage,
  propagationCounters,
  resetPropagationCounters,
  withLane,
} from '@graylane/core';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { headerRecorder } from '../../../test/helpers/header-recorder';
import { hideModule } from '../../../test/helpers/hidden-module';

const root = new URL('../../..', `file://${__filename}`).pathname;
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const HAS_CREATED_CHANNEL = major > 23 || (major === 23 && minor >= 2) || (major === 22 && minor >= 12);

function runNode(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function httpGet(url: string, headers?: http.OutgoingHttpHeaders | string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: headers as http.OutgoingHttpHeaders }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function fetchGet(url: string, headers?: Record<string, string>): Promise<void> {
  await (await fetch(url, { headers })).text();
}

test('nothing is patched or subscribed until enablePropagation() is called', () => {
  // A fresh process: loading @graylane/core (and creating lane contexts) changes nothing global.
  const r = runNode(`
    const http = require('node:http');
    const https = require('node:https');
    const dc = require('node:diagnostics_channel');
    const before = [http.request, http.get, https.request, https.get];
    const core = require('@graylane/core');
    core.withLane('gray', () => {});
    const after = [http.request, http.get, https.request, https.get];
    console.log(JSON.stringify({
      same: before.every((f, i) => f === after[i]),
      undici: dc.hasSubscribers('undici:request:create'),
      http: dc.hasSubscribers('http.client.request.created'),
      otel: Object.keys(require.cache).some((p) => p.includes('@opentelemetry')),
    }));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { same: true, undici: false, http: false, otel: false });
});

test('enable twice = one set of hooks (reference counted); the last disable() removes them', async (t) => {
  const { url, seen } = await headerRecorder(t);
  const first = enablePropagation({ openTelemetry: false });
  const second = enablePropagation({ openTelemetry: false });
  assert.equal(diagnosticsChannel.hasSubscribers('undici:request:create'), true);
  await withLane('gray', () => fetchGet(url));
  await withLane('gray', () => httpGet(url));
  // Tagged once, not twice (a doubled header would arrive as "gray, gray").
  assert.equal(seen[0]!['x-mse-tag'], 'gray');
  assert.equal(seen[1]!['x-mse-tag'], 'gray');
  first.disable();
  first.disable(); // idempotent: does not release the second handle's hold
  await withLane('gray', () => fetchGet(url));
  assert.equal(seen[2]!['x-mse-tag'], 'gray', 'still enabled while a handle is held');
  second.disable();
  assert.equal(diagnosticsChannel.hasSubscribers('undici:request:create'), false);
  if (HAS_CREATED_CHANNEL)
    assert.equal(diagnosticsChannel.hasSubscribers('http.client.request.created'), false);
  await withLane('gray', () => fetchGet(url));
  await withLane('gray', () => httpGet(url));
  assert.equal(seen[3]!['x-mse-tag'], undefined);
  assert.equal(seen[4]!['x-mse-tag'], undefined);
});

test('enabling again with different settings fails instead of silently mixing them', () => {
  const handle = enablePropagation({ openTelemetry: false });
  try {
    assert.throws(() => enablePropagation({ header: 'x-lane', openTelemetry: false }), {
      code: 'GL_ERR_INVALID_OPTION',
    });
    assert.throws(() => enablePropagation({ undici: false, openTelemetry: false }), {
      code: 'GL_ERR_INVALID_OPTION',
    });
    // Equivalent spellings are the same settings.
    enablePropagation({ header: 'X-MSE-TAG', carry: true, undici: true, openTelemetry: false }).disable();
  } finally {
    handle.disable();
  }
});

test('malformed options fail at setup with GL_ERR_INVALID_OPTION and patch nothing', () => {
  const original = http.request;
  const bad: unknown[] = [
    { header: 'not a header' },
    { header: 42 },
    { carry: 'yes' },
    { undici: 'yes' },
    { http: 'sometimes' },
    { openTelemetry: 'maybe' },
    'x-mse-tag',
  ];
  if (!HAS_CREATED_CHANNEL) bad.push({ http: 'channel' });
  for (const options of bad) {
    assert.throws(
      () => enablePropagation(options as never),
      { code: 'GL_ERR_INVALID_OPTION' },
      JSON.stringify(options),
    );
  }
  assert.equal(http.request, original);
  assert.equal(diagnosticsChannel.hasSubscribers('undici:request:create'), false);
});

test('a custom header name; clients can be switched off one by one', async (t) => {
  const { url, seen } = await headerRecorder(t);
  const handle = enablePropagation({ header: 'X-Lane', http: false, openTelemetry: false });
  t.after(() => handle.disable());
  assert.equal(handle.httpMode, null);
  await withLane('gray', () => fetchGet(url));
  await withLane('gray', () => httpGet(url));
  assert.equal(seen[0]!['x-lane'], 'gray');
  assert.equal(seen[0]!['x-mse-tag'], undefined);
  assert.equal(seen[1]!['x-lane'], undefined, 'http: false leaves node:http alone');
});

test('graylane:propagation:inject is published when subscribed; counters count injected and kept', async (t) => {
  const { url } = await headerRecorder(t);
  const handle = enablePropagation({ openTelemetry: false });
  t.after(() => handle.disable());
  const messages: InjectMessage[] = [];
  const onInject = (message: unknown) => messages.push(message as InjectMessage);
  diagnosticsChannel.subscribe('graylane:propagation:inject', onInject);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:propagation:inject', onInject));
  resetPropagationCounters();
  await withLane('gray', () => fetchGet(url));
  await withLane('blue', () => httpGet(url));
  await withLane('blue', () => httpGet(url, { 'x-mse-tag': 'explicit' }));
  await fetchGet(url); // no lane: nothing published, nothing counted
  assert.deepEqual(messages, [
    { lane: 'gray', client: 'undici', header: 'x-mse-tag' },
    { lane: 'blue', client: 'http', header: 'x-mse-tag' },
  ]);
  assert.deepEqual(propagationCounters(), {
    injected: 2,
    kept: 1,
    unwritable: 0,
    dropped: 0,
    unintercepted: 0,
    unpropagated: 0,
  });
});

test('a request whose headers are already rendered is left alone and counted, never thrown', async (t) => {
  const { url, seen } = await headerRecorder(t);
  const handle = enablePropagation({ openTelemetry: false });
  t.after(() => handle.disable());
  resetPropagationCounters();
  // Raw header arrays are rendered in the ClientRequest constructor (and carry their own host).
  await withLane('gray', () => httpGet(url, ['host', new URL(url).host, 'accept', 'text/plain']));
  assert.equal(seen[0]!.accept, 'text/plain');
  assert.equal(seen[0]!['x-mse-tag'], undefined);
  assert.equal(propagationCounters().unwritable, 1);
});

test('[http: wrap] a wrapper installed on top of ours survives disable(); ours then passes through', async (t) => {
  const { url, seen } = await headerRecorder(t);
  const pristine = http.request;
  const handle = enablePropagation({ http: 'wrap', openTelemetry: false });
  const ours = http.request;
  let foreignCalls = 0;
  const foreign = function foreignRequest(this: unknown, ...args: unknown[]) {
    foreignCalls++;
    return (ours as (...a: unknown[]) => http.ClientRequest).apply(this, args);
  } as typeof http.request;
  http.request = foreign;
  t.after(() => {
    http.request = pristine;
  });
  handle.disable();
  assert.equal(http.request, foreign, 'a foreign wrapper is not removed');
  await withLane('gray', () => httpGet(url));
  assert.equal(seen[0]!['x-mse-tag'], undefined, 'ours passes through once disabled');
  // Enabling again reuses ours where it still sits (no self-recursion), and tags again.
  const again = enablePropagation({ http: 'wrap', openTelemetry: false });
  await withLane('gray', () => httpGet(url));
  again.disable();
  assert.equal(seen[1]!['x-mse-tag'], 'gray');
  assert.equal(foreignCalls, 2);
});

test('openTelemetry: the bridge is enabled with propagation (auto) and disabled with it', () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const entry = () => propagation.getBaggage(context.active())?.getEntry('x-mse-tag')?.value;
    const off = enablePropagation({ openTelemetry: false });
    assert.equal(off.openTelemetry, false);
    assert.equal(
      withLane('gray', () => entry()),
      undefined,
    );
    off.disable();
    const handle = enablePropagation();
    assert.equal(handle.openTelemetry, true);
    assert.equal(
      withLane('gray', () => entry()),
      'gray',
    );
    handle.disable();
    assert.equal(
      withLane('gray', () => entry()),
      undefined,
      'bridge disabled with the handle',
    );
  } finally {
    context.disable();
  }
});

test("openTelemetry: 'auto' without @opentelemetry/api is skipped; true requires it (GL_ERR_MISSING_PEER)", () => {
  const r = runNode(`
    ${hideModule('@opentelemetry/api')}
    const http = require('node:http');
    const dc = require('node:diagnostics_channel');
    const core = require('@graylane/core');
    const original = http.request;
    const handle = core.enablePropagation();
    const auto = handle.openTelemetry;
    handle.disable();
    let code = null;
    try { core.enablePropagation({ openTelemetry: true }); } catch (err) { code = err.code; }
    console.log(JSON.stringify({
      auto, code,
      restored: http.request === original && !dc.hasSubscribers('undici:request:create'),
    }));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { auto: false, code: 'GL_ERR_MISSING_PEER', restored: true });
});

test('node:http mode is chosen by capability: the probe finds http.client.request.created exactly where Node documents it', () => {
  // The version table is Node's changelog (22.12.0, 23.2.0); the library itself never reads the version.
  const r = runNode(
    "const { hasRequestCreatedChannel } = require('./packages/core/dist/http-hook.js'); console.log(hasRequestCreatedChannel(), hasRequestCreatedChannel())",
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${HAS_CREATED_CHANNEL} ${HAS_CREATED_CHANNEL}`);
});
