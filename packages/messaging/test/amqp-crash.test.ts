// The gray consumer's process dies (SIGKILL, no close()): RabbitMQ drops its consumers with its
// connection and requeues what it held; the base consumer sees the presence queue empty at its
// next liveness read and takes the gray lane over. At least once: a message the dead process
// handled but had not acked is handled again (at most its prefetch).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { contractBroker, LIVENESS_MS } from './amqp-fixture';
import { callDownstream, downstream, waitFor } from './helpers';

test('amqp: the gray consumer process is killed — base takes gray over, nothing lost', async (t) => {
  const group = await contractBroker.group(t);
  const down = await downstream(t);
  const base = await group.consumer(null, (id) => callDownstream(down.url, id, 'base'));
  t.after(() => base.close());
  const queue = group.name;
  assert.equal(typeof queue, 'string');
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'amqp-crash-child.ts')], {
    env: { ...process.env, QUEUE: queue!, DOWNSTREAM: down.url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  await once(child.stdout, 'data');
  await waitFor(() => base.liveLanes().includes('gray'), 'base sees the gray process live');

  let next = 0;
  let publishing = true;
  const producer = (async () => {
    while (publishing) {
      for (let k = 0; k < 5; k++) await group.send(next++, 'gray', false);
      await group.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await waitFor(() => down.seen.filter((s) => s.by === 'gray').length >= 100, 'gray process handling');
  const killedAt = performance.now();
  child.kill('SIGKILL');
  await waitFor(() => down.seen.some((s) => s.by === 'base' && s.at > killedAt), 'base handling gray');
  const takeover = down.seen.find((s) => s.by === 'base' && s.at > killedAt)!.at - killedAt;
  await new Promise((r) => setTimeout(r, 500));
  publishing = false;
  await producer;
  const handled = () => new Set(down.seen.map((s) => s.id)).size;
  await waitFor(() => handled() >= next, 'every message handled at least once');
  const twice = down.seen.length - handled();
  console.log(
    `amqp crash (node ${process.version}, livenessIntervalMs ${LIVENESS_MS}): takeover ${takeover.toFixed(0)} ms after SIGKILL; ${next} messages, ${twice} handled twice (in flight in the killed process)`,
  );
  assert.equal(handled(), next, 'none lost');
  assert.ok(twice <= 100, `at most the killed consumer's prefetch handled twice (${twice})`);
  assert.ok(down.seen.every((s) => s.tag === 'gray'));
});
