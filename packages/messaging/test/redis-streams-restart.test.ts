// The gray consumer's process dies (SIGKILL) and a new gray process starts before the dead one's
// presence member expires (a quick restart, as a Kubernetes pod restart is): the lane never reads
// as gone, so base keeps routing gray entries to the lane stream and never drains it. What the dead
// consumer held (read, not acked) sits in the lane stream's pending list under its consumer name:
// the new gray consumer claims it (XAUTOCLAIM) once it is idle ≥ claimIdleMs. Nothing lost, nothing
// handled by the wrong lane, only what the dead process held handled twice.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { DEFAULT_STREAM_BATCH, laneStreamName } from '@graylane/messaging/redis-streams';
import { spawnGrayChild, steadyProducer } from './crash-contract';
import { callDownstream, downstream, type Seen, waitFor } from './helpers';
import { admin, contractBroker, GROUP, LIVENESS_MS } from './redis-streams-fixture';

const TTL_MS = 10_000; // longer than the whole restart: the lane stays live throughout
const CLAIM_IDLE_MS = 1500;
const TAGS: ReadonlyArray<string | undefined> = ['gray', undefined, 'gray', '-bad', 'gray'];

test('redis-streams: a gray process killed and replaced before its presence expires — the new gray consumer claims what the dead one held after claimIdleMs; none lost, none to base', async (t) => {
  const group = await contractBroker.group(t);
  const down = await downstream(t);
  const options = { livenessTtlMs: TTL_MS, claimIdleMs: CLAIM_IDLE_MS };
  const childOptions = {
    stream: group.name,
    group: GROUP,
    lane: 'gray',
    livenessIntervalMs: LIVENESS_MS,
    ...options,
  };
  const children = Promise.all([
    spawnGrayChild(t, 'redis-streams', childOptions, down.url, 'gray1'),
    spawnGrayChild(t, 'redis-streams', childOptions, down.url, 'gray2'),
  ]);
  children.catch(() => undefined);
  const base = await group.consumer(null, (id) => callDownstream(down.url, id, 'base'), options);
  t.after(() => base.close());
  const [first, second] = await children;
  await first.start();
  await waitFor(() => base.liveLanes().includes('gray'), 'base sees the gray process live');

  const producer = steadyProducer(group, TAGS);
  const { tags } = producer;
  const handled = (by: string) => down.seen.filter((s) => s.by === by).length;
  const laneStream = laneStreamName(group.name!, 'gray');
  // Pending entries of the lane stream per consumer name (only the gray processes read it while gray is live).
  const pending = async () => {
    const [, , , consumers] = (await admin.xpending(laneStream, GROUP)) as [
      number,
      unknown,
      unknown,
      Array<[string, string]> | null,
    ];
    return new Map((consumers ?? []).map(([name, count]) => [name, Number(count)]));
  };
  await waitFor(() => handled('gray1') >= 15, 'the gray process handling gray messages');
  // Killed while it holds entries (read, not acked): its handler takes 100 ms each.
  await waitFor(async () => (await pending()).size > 0, 'the gray process holding entries');
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  const killedAt = performance.now();
  const sentBeforeKill = tags.length;
  const heldAtKill = await pending();
  assert.equal(heldAtKill.size, 1, 'one consumer (the killed one) holds entries of the lane stream');
  const [deadName, heldCount] = [...heldAtKill][0]!;
  // At once: well within the dead process's presence TTL.
  await second.start();
  // What the dead consumer held is claimed by the new one (and acked once handled).
  await waitFor(
    async () => ((await pending()).get(deadName) ?? 0) === 0,
    'the entries the dead consumer held claimed',
    4 * CLAIM_IDLE_MS + 15_000,
  );
  const claimedMs = performance.now() - killedAt;
  await waitFor(() => handled('gray2') >= 15, 'the new gray process handling gray messages');
  await producer.stop();
  const total = tags.length;
  const firstAt = () => {
    const at = new Map<string, number>();
    for (const s of down.seen) if (!at.has(s.id)) at.set(s.id, s.at);
    return at;
  };
  await waitFor(() => firstAt().size >= total, 'every message handled', 4 * CLAIM_IDLE_MS + 15_000);
  await new Promise((r) => setTimeout(r, 3 * LIVENESS_MS)); // a late duplicate would show now
  assert.equal((await pending()).size, 0, 'nothing left pending on the lane stream');

  const seen = down.seen.slice();
  const at = firstAt();
  const lost = tags.map((_, id) => String(id)).filter((id) => !at.has(id));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${total} never handled`);
  const validTag = (tag: string | undefined) => (tag === '-bad' ? undefined : tag);
  const wrong = seen.filter((s: Seen) => {
    const tag = tags[Number(s.id)];
    return s.tag !== validTag(tag) || (tag === 'gray') === (s.by === 'base');
  });
  assert.deepEqual(
    wrong.slice(0, 5),
    [],
    `${wrong.length} handled by the wrong lane (gray by base, or others by gray)`,
  );
  // Sent before the kill and handled after it: by gray2, what the dead process held or had not read yet.
  // What the dead consumer held was handled by the new one once claimed (≥ claimIdleMs after
  // the kill, give or take how long before the kill it was read): at least as many entries sent
  // before the kill as were pending on it.
  const handledAfterClaim = new Set(
    seen
      .filter(
        (s) => s.by === 'gray2' && Number(s.id) < sentBeforeKill && s.at - killedAt >= CLAIM_IDLE_MS - 500,
      )
      .map((s) => s.id),
  );
  assert.ok(
    handledAfterClaim.size >= heldCount,
    `${handledAfterClaim.size} entries sent before the kill handled by the new gray consumer after the claim, ${heldCount} were pending on the dead one`,
  );
  const byId = new Map<string, Seen[]>();
  for (const s of seen) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  const twice = [...byId].filter(([, list]) => list.length > 1);
  const unexplained = twice.filter(
    ([, list]) => list.length !== 2 || list[0]!.by !== 'gray1' || list[1]!.by !== 'gray2',
  );
  assert.deepEqual(unexplained.slice(0, 5), [], 'handled twice, not in flight in the killed process');
  assert.ok(twice.length <= Math.min(heldCount, DEFAULT_STREAM_BATCH), `${twice.length} handled twice`);
  console.log(
    `redis-streams quick restart (node ${process.version}, claimIdleMs ${CLAIM_IDLE_MS}, livenessTtlMs ${TTL_MS}): ` +
      `${heldCount} entries pending on the dead consumer, claimed by the new one ${claimedMs.toFixed(0)} ms after the kill ` +
      `(bound 2 × claimIdleMs + livenessIntervalMs = ${2 * CLAIM_IDLE_MS + LIVENESS_MS} ms); ${total} messages, ${twice.length} handled twice, 0 lost, 0 gray by base`,
  );
  // A claim pass runs every claimIdleMs (and at most one read's BLOCK late); an entry is claimed once idle ≥ claimIdleMs.
  assert.ok(
    claimedMs < 2 * (2 * CLAIM_IDLE_MS + LIVENESS_MS) + 5000,
    `the held entries were claimed ${claimedMs.toFixed(0)} ms after the kill`,
  );
  assert.ok(claimedMs >= CLAIM_IDLE_MS - 500, 'not claimed before they were idle claimIdleMs');
});
