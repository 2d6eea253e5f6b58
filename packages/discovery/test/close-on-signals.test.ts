// closeOnSignals with two registrations in one process (HTTP and gRPC, two ports): the signal is
// re-raised — the process exits — only once every drain it started has finished. Before, the
// first drain to finish re-raised it and cut the other server's in-flight requests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { request } from 'undici';

test('closeOnSignals, two registrations: the process exits after the last drain, in-flight requests finish', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'close-on-signals-child.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! });
  const next = () => once(lines, 'line').then(([line]) => line as string);
  const { port } = JSON.parse(await next()) as { port: number };
  const response = request(`http://127.0.0.1:${port}/`).then(
    async (res) => res.body.text(),
    (error: unknown) => `failed: ${String(error)}`,
  );
  assert.equal(await next(), 'request');
  child.kill('SIGTERM'); // both drains are 100 ms; the request takes 1 s
  assert.equal(await response, 'done', 'the request in flight at the signal finished');
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGTERM', `ended by the re-raised signal (code ${code})`);
});
