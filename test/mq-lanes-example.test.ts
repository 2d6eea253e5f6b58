import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');

test('examples/mq-lanes runs on RabbitMQ and prints the expected walk', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/mq-lanes/main.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(
    run.status,
    0,
    `exit ${run.status} (needs RabbitMQ on 127.0.0.1:5672: rabbitmq-server -detached)\n${run.stdout}\n${run.stderr}`,
  );
  assert.match(
    run.stdout,
    /beta {2}\) edge \[gray\] .* fulfillment-gray \[gray\] -> inventory-gray \[gray\]/,
  );
  assert.match(run.stdout, /fulfillment-stable \[gray\] -> inventory-gray \[gray\]/);
  assert.match(run.stdout, /untagged orders never reached a gray instance/);
  assert.match(run.stdout, /every hop as expected/);
});
