// The contract of a broker's lane publisher (createLanePublisher), run against each real broker by
// its own test file: a live lane's messages go straight to its consumer (no base consumer moves
// them), a lane without a live consumer is served per permissive / strict / fallback as for any
// message, a stale liveness cache loses nothing, and the 5,000-message mixed run stays exact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageLaneCounters, resetMessageLaneCounters } from '@graylane/messaging';
import { callDownstream, downstream, duplicates, MIXED_TAGS, type Seen, waitFor } from './helpers';
import type { ContractBroker, ContractGroup } from './lane-contract';

/** A running lane publisher of some broker. */
export interface ContractPublisher {
  /** Publishes message `id` inside `withLane(tag)` (untagged: outside any lane). */
  send(id: number, tag: string | undefined): Promise<void> | void;
  flush(): Promise<void>;
  liveLanes(): string[];
  close(): Promise<void>;
}

export interface PublisherGroup extends ContractGroup {
  publisher(livenessIntervalMs: number): Promise<ContractPublisher>;
}

export interface PublisherBroker extends ContractBroker {
  group(t: { after(fn: () => Promise<void> | void): void }): Promise<PublisherGroup>;
}

type Extra = { strict?: string[]; fallback?: Record<string, string> };

function startAs(group: ContractGroup, lane: string | null, url: string, extra?: Extra) {
  const by = lane ?? 'base';
  return group.consumer(lane, (id) => callDownstream(url, id, by), extra);
}

async function sendAll(p: ContractPublisher, ids: number[], tagOf: (id: number) => string | undefined) {
  const sending: Array<Promise<void> | void> = [];
  for (const id of ids) {
    sending.push(p.send(id, tagOf(id)));
    if (sending.length >= 100) await Promise.all(sending.splice(0));
  }
  await Promise.all(sending);
  await p.flush();
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const count = (seen: readonly Seen[], by: string, tag: string | undefined) =>
  seen.filter((s) => s.by === by && s.tag === tag).length;

/** Registers the lane-publisher tests for `broker`. */
export function lanePublisherContract(b: PublisherBroker): void {
  const name = b.broker;
  const settle = () => new Promise((r) => setTimeout(r, 3 * b.livenessMs));

  test(`${name} publisher: a live lane's messages go straight to its consumer — no base consumer moves them`, async (t) => {
    const group = await b.group(t);
    const down = await downstream(t);
    const base = await startAs(group, null, down.url);
    const gray = await startAs(group, 'gray', down.url);
    const publisher = await group.publisher(b.livenessMs);
    t.after(() => Promise.all([base.close(), gray.close(), publisher.close()]).then(() => undefined));
    await waitFor(() => publisher.liveLanes().includes('gray'), 'the publisher reads gray live');
    await waitFor(() => base.liveLanes().includes('gray'), 'base reads gray live');
    resetMessageLaneCounters();

    await sendAll(publisher, range(0, 400), (id) => (id % 2 === 0 ? 'gray' : undefined));
    await waitFor(() => down.seen.length >= 400, '400 messages handled');
    await settle();
    assert.equal(down.seen.length, 400);
    assert.deepEqual(duplicates(down.seen), []);
    assert.equal(count(down.seen, 'gray', 'gray'), 200, 'gray messages handled by the gray consumer');
    assert.equal(count(down.seen, 'base', undefined), 200, 'untagged messages handled by base');
    assert.equal(messageLaneCounters().routed.gray, undefined, 'no gray message was moved by base');
  });

  test(`${name} publisher: lanes without a live consumer are served by base — permissive, fallback chain, strict`, async (t) => {
    const group = await b.group(t);
    const down = await downstream(t);
    const base = await startAs(group, null, down.url, { strict: ['blue'], fallback: { red: 'gray' } });
    const gray = await startAs(group, 'gray', down.url);
    const publisher = await group.publisher(b.livenessMs);
    t.after(() => Promise.all([base.close(), gray.close(), publisher.close()]).then(() => undefined));
    await waitFor(() => publisher.liveLanes().join() === 'gray', 'the publisher reads gray live');
    await waitFor(() => base.liveLanes().join() === 'gray', 'base reads gray live');
    resetMessageLaneCounters();

    // feature-x: no consumer, permissive → base; red: no consumer, falls back to gray (moved by
    // base, still tagged red); blue: strict → waits for its consumer.
    const tags = ['feature-x', 'red', 'blue'];
    await sendAll(publisher, range(0, 150), (id) => tags[id % 3]);
    await waitFor(() => down.seen.length >= 100, 'feature-x and red handled');
    await waitFor(async () => (await group.backlog('blue')) === 50, 'blue waiting for its consumer');
    await settle();
    assert.equal(down.seen.length, 100);
    assert.equal(count(down.seen, 'base', 'feature-x'), 50);
    assert.equal(count(down.seen, 'gray', 'red'), 50);
    const counters = messageLaneCounters();
    assert.equal(counters.fellBack['feature-x'], 50);
    assert.equal(counters.fellBack.red, 50);

    const blue = await startAs(group, 'blue', down.url);
    t.after(() => blue.close());
    await waitFor(() => down.seen.length >= 150, 'blue handled by its consumer');
    await settle();
    assert.equal(down.seen.length, 150);
    assert.deepEqual(duplicates(down.seen), []);
    assert.equal(count(down.seen, 'blue', 'blue'), 50);
  });

  test(`${name} publisher: the lane consumer stops while the publisher still reads it live — none lost, base takes them; strict waits`, async (t) => {
    const group = await b.group(t);
    const down = await downstream(t);
    const base = await startAs(group, null, down.url, { strict: ['blue'] });
    let gray = await startAs(group, 'gray', down.url);
    let blue = await startAs(group, 'blue', down.url);
    // An interval far longer than the test: its view stays "gray and blue live" after they stop.
    const stale = await group.publisher(600_000);
    t.after(() =>
      Promise.all([base.close(), gray.close(), blue.close(), stale.close()]).then(() => undefined),
    );
    await stale.send(-1, 'gray');
    await stale.send(-2, 'blue');
    await waitFor(() => stale.liveLanes().join() === 'blue,gray', 'the publisher reads gray and blue live');
    await waitFor(() => base.liveLanes().join() === 'blue,gray', 'base reads gray and blue live');
    await waitFor(() => down.seen.length >= 2, 'the first two handled');
    resetMessageLaneCounters();

    await gray.close();
    await blue.close();
    const stoppedAt = performance.now();
    await sendAll(stale, range(0, 200), (id) => (id % 2 === 0 ? 'gray' : 'blue'));
    await waitFor(() => count(down.seen, 'base', 'gray') >= 100, 'base handling the gray messages');
    const lastByBase = down.seen.filter((s) => s.by === 'base' && s.tag === 'gray').at(-1)!.at - stoppedAt;
    await waitFor(async () => (await group.backlog('blue')) === 100, 'blue waiting for its consumer');
    await settle();
    assert.equal(count(down.seen, 'base', 'gray'), 100, 'every gray message handled by base, once');
    assert.equal(count(down.seen, 'base', 'blue'), 0, 'strict: base never handles blue');
    assert.equal(
      messageLaneCounters().routed.gray,
      undefined,
      'sent to the gray queue by the publisher itself',
    );
    console.log(
      `${name} publisher, stale view (node ${process.version}, livenessIntervalMs ${b.livenessMs}): 100 gray messages sent to the stopped lane's queue handled by base within ${lastByBase.toFixed(0)} ms of its stop`,
    );
    assert.ok(lastByBase < 10 * (2 * b.livenessMs + 500), `base took them over in ${lastByBase} ms`);

    blue = await startAs(group, 'blue', down.url);
    gray = await startAs(group, 'gray', down.url);
    await waitFor(() => count(down.seen, 'blue', 'blue') >= 101, 'blue handled by its consumer');
    await settle();
    assert.equal(down.seen.length, 202);
    assert.deepEqual(duplicates(down.seen), []);
  });

  test(`${name} publisher: 5,000 messages in mixed lanes — each handled once, by its lane's consumer, nothing moved by base`, async (t) => {
    const group = await b.group(t);
    const down = await downstream(t);
    const consumers = [
      await startAs(group, null, down.url),
      await startAs(group, 'gray', down.url),
      await startAs(group, 'blue', down.url),
    ];
    const publisher = await group.publisher(b.livenessMs);
    t.after(() => Promise.all([...consumers, publisher].map((c) => c.close())).then(() => undefined));
    await waitFor(() => consumers[0]!.liveLanes().join() === 'blue,gray', 'base sees gray and blue live');
    await publisher.send(-1, 'gray');
    await publisher.send(-2, 'blue');
    await waitFor(
      () => publisher.liveLanes().join() === 'blue,gray',
      'the publisher reads gray and blue live',
    );
    await waitFor(() => down.seen.length >= 2, 'the first two handled');
    down.seen.length = 0;
    resetMessageLaneCounters();

    const total = 5000;
    const tags = new Map<string, string | undefined>();
    // Invalid tags cannot be set through withLane: they are sent with a hand-made tag by the fixture's send.
    const valid = (tag: string | undefined) =>
      tag !== undefined && /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(tag) ? tag : undefined;
    const sending: Array<Promise<void> | void> = [];
    for (let i = 0; i < total; i++) {
      const tag = MIXED_TAGS[i % MIXED_TAGS.length];
      tags.set(String(i), tag);
      sending.push(valid(tag) === tag ? publisher.send(i, tag) : group.send(i, tag, false));
      if (sending.length >= 100) await Promise.all(sending.splice(0));
    }
    await Promise.all(sending);
    await publisher.flush();
    await group.flush();
    await waitFor(() => down.seen.length >= total, `${total} messages handled`, 90_000);
    await settle();

    assert.equal(down.seen.length, total);
    assert.deepEqual(duplicates(down.seen), []);
    const expectedBy = (tag: string | undefined) => (tag === 'gray' || tag === 'blue' ? tag : 'base');
    const mismatches = down.seen.filter(
      (s) => s.by !== expectedBy(tags.get(s.id)) || s.tag !== valid(tags.get(s.id)),
    );
    assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} mismatches`);
    const counters = messageLaneCounters();
    assert.equal(counters.routed.gray, undefined, 'no gray message moved by base');
    assert.equal(counters.routed.blue, undefined, 'no blue message moved by base');
    assert.equal(counters.fellBack.red, total / MIXED_TAGS.length);
    console.log(
      `${name} publisher 5000 (node ${process.version}): gray ${count(down.seen, 'gray', 'gray')} blue ${count(down.seen, 'blue', 'blue')} base ${down.seen.filter((s) => s.by === 'base').length}; mismatches ${mismatches.length}; duplicates 0; moved by base 0`,
    );
  });
}
