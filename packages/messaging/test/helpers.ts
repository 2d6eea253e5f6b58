import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import { listen } from '../../../test/helpers/listen';

/** A name no other test run uses: queues, streams and subjects are shared by every run on the machine. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Fails with a message naming the broker, instead of skipping, when a broker test cannot connect.
 */
export async function brokerOrFail<T>(
  broker: string,
  address: string,
  start: string,
  connect: () => Promise<T>,
): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw new Error(
      `${broker} is not reachable at ${address}: ${(error as Error).message ?? String(error)}. ` +
        `The ${broker} tests need it running (start it with: ${start}; .ci/run does this).`,
    );
  }
}

/** One request the downstream got: which consumer sent it, for which message, with which lane tag. */
export interface Seen {
  readonly id: string;
  readonly by: string;
  readonly tag: string | undefined;
  readonly at: number;
}

/** A loopback downstream that records `?id=&by=` and the `x-mse-tag` of every request. */
export async function downstream(t: TestContext): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const tag = req.headers['x-mse-tag'];
    seen.push({
      id: url.searchParams.get('id') ?? '',
      by: url.searchParams.get('by') ?? '',
      tag: typeof tag === 'string' ? tag : undefined,
      at: performance.now(),
    });
    res.end('ok');
  });
  const port = await listen(server, t);
  return { url: `http://127.0.0.1:${port}/`, seen };
}

/** Calls the downstream for message `id` as consumer `by` (the handler's outbound HTTP call). */
export async function callDownstream(url: string, id: string, by: string): Promise<void> {
  const res = await fetch(`${url}?id=${encodeURIComponent(id)}&by=${by}`);
  await res.text();
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs` with `label`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  label: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Ids seen more than once. */
export function duplicates(seen: readonly Seen[]): string[] {
  const count = new Map<string, number>();
  for (const s of seen) count.set(s.id, (count.get(s.id) ?? 0) + 1);
  return [...count].filter(([, n]) => n > 1).map(([id]) => id);
}

/** The lane kinds of the mixed-lane runs: lanes with consumers, a lane without, untagged, invalid. */
export const MIXED_TAGS: ReadonlyArray<string | undefined> = [
  'gray',
  'blue',
  'red',
  undefined,
  '-bad',
  'x'.repeat(70),
  'gray',
  undefined,
];
