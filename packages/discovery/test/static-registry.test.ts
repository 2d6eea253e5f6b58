import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { createDiscovery, type RegistryUpdate, staticRegistry } from '@graylane/discovery';
import { UpdateRecorder } from './registry-contract';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let serial = 0;
/** Replaces the file atomically (write + rename), as config tooling and ConfigMaps do. */
function replace(file: string, text: string): void {
  const temp = `${file}.${serial++}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

const ids = (u: RegistryUpdate) => (u.ok ? u.instances.map((i) => i.id) : undefined);
const idsAre =
  (...want: string[]) =>
  (u: RegistryUpdate) =>
    u.ok && ids(u)!.join() === want.join();

const JSON_V1 = JSON.stringify({
  'svc-b': [
    { id: 'b-stable', host: '10.0.0.1', port: 8080 },
    { id: 'b-gray', host: '10.0.0.2', port: 8080, labels: { 'alicloud.service.tag': 'gray' } },
  ],
});

test('JSON file: loaded at setup, reloaded on change, a broken file keeps the last good set and reports it', async (t) => {
  const file = join(tempDir(t), 'instances.json');
  writeFileSync(file, JSON_V1);
  const registry = staticRegistry({ file, env: false, debounceMs: 10, pollIntervalMs: 100 });
  t.after(() => registry.close());
  const discovery = createDiscovery({ registry });
  t.after(() => discovery.close());
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('svc-b', recorder.listener));
  await recorder.waitFor(idsAre('b-stable', 'b-gray'), 5000, 'initial set');
  await discovery.ready('svc-b');
  assert.equal(discovery.pick('svc-b', 'gray').id, 'b-gray');

  replace(file, JSON.stringify([{ service: 'svc-b', id: 'b-stable', host: '10.0.0.1', port: 8080 }]));
  await recorder.waitFor(idsAre('b-stable'), 5000, 'gray removed');

  replace(file, '{ "svc-b": [ { "host": "10.0.0.3", "port": 99999 } ] }');
  const failed = await recorder.waitFor((u) => !u.ok, 5000, 'the failure');
  assert.ok(!failed.ok);
  assert.equal((failed.error as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  assert.match(failed.error.message, /keeping the last good set.*svc-b\[0\]\.port/);
  assert.equal(discovery.pick('svc-b', 'gray').id, 'b-stable', 'discovery still serves the last good set');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(recorder.updates.filter((u) => !u.ok).length, 1, 'the same broken content is reported once');

  replace(file, '[1, 2');
  await recorder.waitFor((u) => !u.ok && /not valid JSON/.test(u.error.message), 5000, 'a JSON syntax error');

  replace(file, JSON_V1);
  await recorder.waitFor(idsAre('b-stable', 'b-gray'), 5000, 'recovered');
  await new Promise((resolve) => setImmediate(resolve));
  const svc = discovery.snapshot().services['svc-b']!;
  assert.equal(svc.lastError, null, 'recovered: no current error');
  assert.match(svc.lastFailure?.message ?? '', /not valid JSON/, 'the failure stays visible as history');
  assert.equal(typeof svc.lastFailure?.recoveredAt, 'string');
});

test('YAML file: loaded and reloaded; an empty or deleted file keeps the last good set', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'instances.yaml');
  writeFileSync(
    file,
    [
      'svc-b:',
      '  - id: b-stable',
      '    host: 10.0.0.1',
      '    port: 8080',
      '  - id: b-gray',
      '    host: 10.0.0.2',
      '    port: 8080',
      '    weight: 50',
      '    labels:',
      '      opensergo.io/canary-gray: gray',
      '      version: 200',
    ].join('\n'),
  );
  const registry = staticRegistry({ file, env: false, debounceMs: 10, pollIntervalMs: 100 });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('svc-b', recorder.listener));
  const first = await recorder.waitFor(idsAre('b-stable', 'b-gray'), 5000, 'initial set');
  assert.ok(first.ok);
  assert.deepEqual(first.instances[1]!.labels, { 'opensergo.io/canary-gray': 'gray', version: '200' });
  assert.equal(first.instances[1]!.weight, 50);

  replace(file, '- { service: svc-b, id: b-new, host: 10.0.0.9, port: 8080 }\n');
  await recorder.waitFor(idsAre('b-new'), 5000, 'reloaded YAML');

  writeFileSync(file, '');
  await recorder.waitFor((u) => !u.ok && /empty/.test(u.error.message), 5000, 'empty file reported');

  unlinkSync(file);
  await recorder.waitFor((u) => !u.ok && /cannot read/.test(u.error.message), 5000, 'deleted file reported');

  replace(file, 'svc-b: []\n');
  await recorder.waitFor(idsAre(), 5000, 'an explicit empty list empties the service');
});

test('a file in place at setup must be valid: errors name the file and the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-static-'));
  try {
    assert.throws(() => staticRegistry({ file: join(dir, 'missing.json'), env: false }), {
      code: 'GL_ERR_REGISTRY_UNAVAILABLE',
    });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ service: 'svc', host: '10.0.0.1', port: 80, weight: -1 }]));
    assert.throws(
      () => staticRegistry({ file: bad, env: false }),
      (err: Error & { code?: string; path?: string }) => {
        assert.equal(err.code, 'GL_ERR_INVALID_INSTANCE');
        assert.equal(err.path, `${bad}[0].weight`);
        return true;
      },
    );
    writeFileSync(bad, JSON.stringify([{ host: '10.0.0.1', port: 80 }]));
    assert.throws(() => staticRegistry({ file: bad, env: false }), { path: `${bad}[0].service` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('instances from options and from GRAYLANE_INSTANCES (or a named variable) combine', async (t) => {
  const saved = {
    GRAYLANE_INSTANCES: process.env.GRAYLANE_INSTANCES,
    MY_INSTANCES: process.env.MY_INSTANCES,
  };
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  process.env.GRAYLANE_INSTANCES = JSON.stringify([
    { service: 'svc', id: 'from-env', host: '10.0.0.2', port: 80 },
  ]);
  process.env.MY_INSTANCES = JSON.stringify({ svc: [{ id: 'from-mine', host: '10.0.0.3', port: 80 }] });
  const registries = [
    staticRegistry({ instances: [{ service: 'svc', id: 'from-options', host: '10.0.0.1', port: 80 }] }),
    staticRegistry({ env: 'MY_INSTANCES' }),
    staticRegistry({ env: false }),
  ];
  t.after(() => Promise.all(registries.map((r) => r.close())));
  const got: Array<string[] | undefined> = [];
  for (const registry of registries) {
    const recorder = new UpdateRecorder();
    registry.subscribe('svc', recorder.listener);
    got.push(ids(await recorder.waitFor(() => true, 5000, 'first set')));
  }
  assert.deepEqual(got, [['from-options', 'from-env'], ['from-mine'], []]);

  process.env.GRAYLANE_INSTANCES = '[{ not json';
  assert.throws(() => staticRegistry(), { code: 'GL_ERR_INVALID_INSTANCE', path: 'GRAYLANE_INSTANCES' });
  process.env.GRAYLANE_INSTANCES = JSON.stringify([{ service: 'svc', host: 'a b', port: 80 }]);
  assert.throws(() => staticRegistry(), { path: 'GRAYLANE_INSTANCES[0].host' });
});

test('register(): in memory, visible to subscribers; closing it removes it; bad instances reject with the field', async (t) => {
  const registry = staticRegistry({ env: false });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  registry.subscribe('svc', recorder.listener);
  const one = await registry.register({ service: 'svc', host: '10.0.0.1', port: 80 });
  assert.equal(one.instance.id, '10.0.0.1:80');
  const two = await registry.register({ service: 'svc', id: 'two', host: '10.0.0.2', port: 80 });
  await recorder.waitFor(idsAre('10.0.0.1:80', 'two'), 5000, 'both');
  await one.close();
  await recorder.waitFor(idsAre('two'), 5000, 'one closed');
  await two.close();
  await recorder.waitFor(idsAre(), 5000, 'none left');
  await assert.rejects(registry.register({ service: 'svc', host: '10.0.0.1', port: 0 }), {
    code: 'GL_ERR_INVALID_INSTANCE',
    path: 'instance.port',
  });
  await assert.rejects(registry.register({ service: 'bad service', host: '10.0.0.1', port: 1 }), {
    path: 'instance.service',
  });
});
