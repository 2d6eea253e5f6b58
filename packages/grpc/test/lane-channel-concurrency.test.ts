import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withLane } from '@graylane/core';
import { bidi, type EchoReply, serverStream, unary } from './helpers/echo';
import { GRAY, startFleet } from './helpers/lane-fleet';

const CALLS = 2000;
const CONCURRENCY = 50;
const LANES = ['gray', '', 'feature-x', 'blue'] as const;
// blue falls back to gray; feature-x has no instance and no fallback, so it is served by base.
const SERVED_BY: Record<(typeof LANES)[number], readonly string[]> = {
  gray: ['b-gray'],
  '': ['b-stable-1', 'b-stable-2'],
  'feature-x': ['b-stable-1', 'b-stable-2'],
  blue: ['b-gray'],
};

test(`${CALLS} calls at concurrency ${CONCURRENCY}, mixed lanes and kinds, one channel: zero lane mismatches`, async (t) => {
  let handled = 0;
  let mismatches = 0;
  const fleet = await startFleet(t, {
    scheme: 'graylane-load',
    service: 'svc-b',
    members: [{ name: 'b-stable-1' }, { name: 'b-stable-2' }, { name: 'b-gray', labels: GRAY }],
    discovery: { fallback: { blue: 'gray' } },
    server: {
      // Every request names the lane it was sent in; the handler compares with the lane it runs in.
      onCall: (lane, request) => {
        handled++;
        if (lane !== request.message) mismatches++;
      },
    },
  });
  const client = fleet.client('svc-b');
  let next = 0;
  let wrongInstance = 0;
  let wrongReply = 0;
  const check = (lane: string, reply: EchoReply) => {
    if (!SERVED_BY[lane as (typeof LANES)[number]].includes(reply.served_by)) wrongInstance++;
    if (reply.lane !== lane) wrongReply++;
  };
  const worker = async () => {
    while (next < CALLS) {
      const i = next++;
      const lane = LANES[i % LANES.length]!;
      const call = async () => {
        if (i % 10 === 7) {
          for (const reply of await serverStream(client, { message: lane, count: 2 })) check(lane, reply);
        } else if (i % 10 === 9) {
          const replies = await bidi(client, 0);
          for (const reply of replies) check(lane, reply);
          // A bidi call with no messages reaches no onCall; count it by its end reply.
          handled++;
        } else {
          check(lane, await unary(client, { message: lane }));
        }
      };
      await (lane === '' ? call() : withLane(lane, call));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(handled, CALLS);
  assert.equal(mismatches, 0);
  assert.equal(wrongReply, 0);
  assert.equal(wrongInstance, 0);
});
