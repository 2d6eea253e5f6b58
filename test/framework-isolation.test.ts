// Isolation across frameworks under load: 5,000 mixed-lane requests at concurrency 100 through
// the mixed chain Express -> Fastify -> Koa -> NestJS; every hop must run in the lane of its own
// request: zero mismatches.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enable, flatten, MIXED, send, startChain } from './helpers/framework-hops';

const TOTAL = 5_000;
const CONCURRENCY = 100;
/** Give up (and fail) past this, so a hang cannot stall the suite. Not a speed assertion. */
const DEADLINE_MS = 100_000; // below the runner's --test-timeout (120 s)
const CHAIN = MIXED.slice(0, 4); // Express -> Fastify -> Koa -> NestJS
const TAGS: ReadonlyArray<readonly [sent: string | undefined, expected: string | null]> = [
  ['gray', 'gray'],
  [undefined, null],
  ['blue', 'blue'],
  ['-invalid', null],
  ['feature-x', 'feature-x'],
  ['x'.repeat(100), null],
  ['v1.2_3', 'v1.2_3'],
];

test(`isolation across frameworks: ${TOTAL} mixed-lane requests at concurrency ${CONCURRENCY} through Express -> Fastify -> Koa -> NestJS, zero mismatches`, async (t) => {
  enable(t);
  const entry = await startChain(t, CHAIN);
  const deadline = Date.now() + DEADLINE_MS;
  let nextIndex = 0;
  const mismatches: string[] = [];
  let done = 0;
  async function worker(): Promise<void> {
    for (let i = nextIndex++; i < TOTAL && Date.now() < deadline; i = nextIndex++) {
      const [sent, expected] = TAGS[i % TAGS.length]!;
      const lanes = flatten(await send(entry, sent)).map(([, lane]) => lane);
      if (lanes.some((lane) => lane !== expected)) {
        mismatches.push(`#${i} sent ${String(sent).slice(0, 20)}: ${JSON.stringify(lanes)}`);
      }
      done++;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(done, TOTAL, `${done} of ${TOTAL} requests done within ${DEADLINE_MS} ms`);
  assert.deepEqual(mismatches.slice(0, 10), []);
});
