// The client × dispatcher isolation matrix (lane integrity, issue 13 item 1): one cell sends many
// requests at high concurrency in a mix of lanes (several lanes, none, invalid tags read at
// ingress) to a server that answers with the lane header it received, and counts every answer
// that is not the caller's own lane.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TestContext } from 'node:test';
import { laneFromHeaders, withLane } from '@graylane/core';
import { listen } from './listen';
import type { TlsPair } from './tls';

/** Sends one GET to `url` and resolves with the response body (the lane header the server saw). */
export type CellClient = (url: string) => Promise<string>;

/** One request of the mix: the lane its caller runs in and what the server must see. */
interface MixEntry {
  readonly lane: string | undefined;
  readonly expected: string;
}

// Invalid tags are read through ingress, as a service would: they give the base lane.
const INVALID_DASH = laneFromHeaders({ 'x-mse-tag': '-bad' });
const INVALID_LONG = laneFromHeaders({ 'x-mse-tag': 'x'.repeat(80) });

/** Four lanes, the base lane and two invalid tags; untagged and invalid make up 4 of 10. */
export const MIX: readonly MixEntry[] = [
  { lane: 'gray', expected: 'gray' },
  { lane: undefined, expected: '' },
  { lane: 'blue', expected: 'blue' },
  { lane: INVALID_DASH, expected: '' },
  { lane: 'feature-x', expected: 'feature-x' },
  { lane: undefined, expected: '' },
  { lane: 'v1.2_3', expected: 'v1.2_3' },
  { lane: INVALID_LONG, expected: '' },
  { lane: 'gray', expected: 'gray' },
  { lane: 'blue', expected: 'blue' },
];

export interface CellResult {
  readonly cell: string;
  readonly total: number;
  /** Answers carrying a lane that is not the caller's (including a lane on an untagged call). */
  readonly wrong: number;
  /** Calls made in a lane that arrived without one. */
  readonly lost: number;
  /** Calls that failed (transport errors, status). */
  readonly failed: number;
  /** The first few wrong/lost/failed descriptions. */
  readonly samples: readonly string[];
}

/** Settings of one cell run. */
export interface CellOptions {
  /** Requests sent. Default 1,000. */
  readonly total?: number;
  /** Requests in flight at once. Default 200. */
  readonly concurrency?: number;
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const tag = req.headers['x-mse-tag'];
  req.resume();
  if (req.url === '/redirect') {
    // Followed by the client: the second request must carry the caller's lane too.
    setImmediate(() => res.writeHead(302, { location: '/' }).end());
    return;
  }
  // Answer on the next turn, so requests pile up behind connection limits.
  setImmediate(() => res.end(Array.isArray(tag) ? tag.join(',') : (tag ?? '')));
}

/**
 * A loopback server answering every request with the `x-mse-tag` it got ('' for none), except
 * `/redirect`, which answers `302 Location: /`.
 */
export async function laneEcho(t: TestContext, tls?: TlsPair): Promise<{ url: string; origin: string }> {
  const server = tls === undefined ? createHttpServer(answer) : createHttpsServer({ ...tls }, answer);
  // Keep-alive sockets outlive every cell: no server-side close racing a client's reuse.
  server.keepAliveTimeout = 60_000;
  server.maxRequestsPerSocket = 0;
  const port = await listen(server, t);
  const origin = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  return { url: `${origin}/`, origin };
}

/**
 * Sends `total` requests through `client`, `concurrency` at a time, each from inside the lane of
 * its {@link MIX} entry (every third one yields a turn first, so lanes interleave), and counts the
 * answers that are wrong or lost.
 */
export async function runCell(
  cell: string,
  client: CellClient,
  url: string,
  options: CellOptions = {},
): Promise<CellResult> {
  const total = options.total ?? 1_000;
  const concurrency = options.concurrency ?? 200;
  let next = 0;
  let wrong = 0;
  let lost = 0;
  let failed = 0;
  const samples: string[] = [];
  const note = (text: string) => {
    if (samples.length < 5) samples.push(text);
  };
  async function one(i: number): Promise<void> {
    const entry = MIX[i % MIX.length]!;
    if (i % 3 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    let got: string;
    try {
      got = await withLane(entry.lane, () => client(url));
    } catch (error) {
      failed++;
      note(`#${i}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (got === entry.expected) return;
    if (got === '') lost++;
    else wrong++;
    note(`#${i} in ${entry.lane ?? '(base)'}: got ${JSON.stringify(got)}`);
  }
  async function worker(): Promise<void> {
    while (next < total) await one(next++);
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { cell, total, wrong, lost, failed, samples };
}

/** One line for the test log: `cell: total N, wrong W, lost L, failed F`. */
export function describeCell(result: CellResult): string {
  const { cell, total, wrong, lost, failed, samples } = result;
  const tail = samples.length === 0 ? '' : ` — ${samples.join('; ')}`;
  return `${cell}: total ${total}, wrong ${wrong}, lost ${lost}, failed ${failed}${tail}`;
}
