import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseDownwardLabels, readDownwardLabels, register, staticRegistry } from '@graylane/discovery';

function labelsFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-podinfo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'labels');
  writeFileSync(file, text);
  return file;
}

const POD_LABELS = [
  'app="svc-b"',
  'pod-template-hash="5d8f7c"',
  'alicloud.service.tag="gray"',
  'note="say \\"hi\\"\\n\\\\ \\u00e9\\x41\\101"',
  '',
  'broken-line-without-equals',
  'unquoted=plain value ',
].join('\n');

test('parseDownwardLabels reads the downward-API key="value" format, Go escapes included', () => {
  assert.deepEqual(parseDownwardLabels(POD_LABELS), {
    app: 'svc-b',
    'pod-template-hash': '5d8f7c',
    'alicloud.service.tag': 'gray',
    note: 'say "hi"\n\\ éAA',
    unquoted: 'plain value',
  });
  assert.deepEqual(parseDownwardLabels('a="\\q\\x4"\r\nb=""\n="x"\n'), { a: '\\q\\x4', b: '' });
  assert.equal(readDownwardLabels('/nonexistent/graylane/labels'), undefined);
});

test('register(): the lane comes from options, then labels, then GRAYLANE_LANE, then the labels file', async (t) => {
  const registry = staticRegistry({ env: false });
  t.after(() => registry.close());
  const file = labelsFile(t, POD_LABELS);
  const base = { service: 'svc', host: '127.0.0.1', labelsFile: file };
  const lanes = async (options: Parameters<typeof register>[1]) => {
    const registration = await register(registry, options);
    await registration.close();
    return registration.instance.labels;
  };
  assert.deepEqual(await lanes({ ...base, port: 1, lane: 'blue', env: { GRAYLANE_LANE: 'green' } }), {
    'alicloud.service.tag': 'blue',
  });
  assert.deepEqual(await lanes({ ...base, port: 2, labels: { ASM_TRAFFIC_TAG: 'red', app: 'x' }, env: {} }), {
    ASM_TRAFFIC_TAG: 'red',
    app: 'x',
  });
  assert.deepEqual(await lanes({ ...base, port: 3, env: { GRAYLANE_LANE: 'green' } }), {
    'alicloud.service.tag': 'green',
  });
  assert.deepEqual(await lanes({ ...base, port: 4, env: {} }), { 'alicloud.service.tag': 'gray' });
  assert.deepEqual(await lanes({ ...base, port: 5, lane: null, env: { GRAYLANE_LANE: 'green' } }), {});
  assert.deepEqual(await lanes({ ...base, port: 6, labelsFile: false, env: {} }), {});
  assert.deepEqual(await lanes({ ...base, port: 7, labelsFile: '/nonexistent/labels', env: {} }), {});
  assert.deepEqual(
    await lanes({ ...base, port: 8, env: {}, laneLabels: ['opensergo.io/canary-*'], lane: 'gray' }),
    {
      'opensergo.io/canary-gray': 'gray',
    },
  );
});

test('register(): host defaults to POD_IP, id to host:port; an invalid lane from any source rejects', async (t) => {
  const registry = staticRegistry({ env: false });
  t.after(() => registry.close());
  const registration = await register(registry, {
    service: 'svc',
    port: 9000,
    labelsFile: false,
    env: { POD_IP: '10.1.2.3' },
  });
  assert.equal(registration.instance.host, '10.1.2.3');
  assert.equal(registration.instance.id, '10.1.2.3:9000');
  await registration.close();
  const guessed = await register(registry, { service: 'svc', port: 9001, labelsFile: false, env: {} });
  assert.match(guessed.instance.host, /^\d+\.\d+\.\d+\.\d+$/);
  await guessed.close();
  await assert.rejects(register(registry, { service: 'svc', port: 1, lane: 'not a lane' }), {
    code: 'GL_ERR_INVALID_OPTION',
    path: 'lane',
  });
  await assert.rejects(
    register(registry, { service: 'svc', port: 1, labelsFile: false, env: { GRAYLANE_LANE: '-x' } }),
    {
      code: 'GL_ERR_INVALID_OPTION',
      path: 'GRAYLANE_LANE',
    },
  );
  await assert.rejects(
    register(registry, {
      service: 'svc',
      port: 1,
      labelsFile: labelsFile(t, 'alicloud.service.tag="a b"'),
      env: {},
    }),
    {
      code: 'GL_ERR_INVALID_OPTION',
    },
  );
  await assert.rejects(register(registry, { service: 'svc', port: 70000, lane: null }), {
    code: 'GL_ERR_INVALID_INSTANCE',
    path: 'instance.port',
  });
});

test('closeOnSignals: SIGTERM deregisters, then the process still exits by the signal', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'self-register-child.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  const readyOrExit = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n') && out.includes('["me"]')) resolve();
    });
    child.on('exit', () => reject(new Error(`child exited early: ${out}`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  t.after(() => clearTimeout(timer));
  await readyOrExit;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGTERM', `exit code ${code}`);
  assert.match(out, /\["me"\]\n[\s\S]*\[\]\n$/, 'the registration was removed before exiting');
});
