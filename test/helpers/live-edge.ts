// An edge (express + laneEdge) on a real port, a steady request load through it, and split
// measurements by distinct sticky keys — shared by the live-rules and release-plan tests.
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import { currentLane } from '@graylane/core';
import { type LaneEdgeOptions, laneEdge, ruleSetVersionOf } from '@graylane/express';
import express from 'express';
import { Pool } from 'undici';
import { listen } from './listen';

/** One answered request: who asked, what lane and rule-set version decided it, the status. */
export interface Sample {
  readonly user: string;
  readonly status: number;
  readonly lane: string | undefined;
  readonly version: number;
  /** Set when the request failed without a response. */
  readonly error?: string;
}

export interface LiveEdge {
  readonly port: number;
  readonly edge: ReturnType<typeof laneEdge>;
  readonly pool: Pool;
  send(user: string): Promise<Sample>;
}

/**
 * Starts an edge whose handler answers with the lane it runs in (`x-lane`) and the version of the
 * rule set that decided it (`x-rules-version`). `handler` may answer instead (e.g. a failing gray).
 */
export async function startEdge(
  t: TestContext,
  options: LaneEdgeOptions,
  handler?: (lane: string | undefined, res: express.Response) => boolean,
): Promise<LiveEdge> {
  const app = express();
  const edge = laneEdge(options);
  app.use(edge);
  app.get('/', (req, res) => {
    const lane = currentLane();
    res.set('x-lane', lane ?? '-');
    res.set('x-rules-version', String(ruleSetVersionOf(req)));
    if (handler?.(lane, res)) return;
    res.end('ok');
  });
  const server = createServer(app);
  const port = await listen(server, t);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16, pipelining: 1 });
  t.after(async () => {
    await pool.close();
    await edge.close();
  });
  return {
    port,
    edge,
    pool,
    async send(user) {
      try {
        const res = await pool.request({ path: '/', method: 'GET', headers: { 'x-user': user } });
        await res.body.dump();
        const lane = res.headers['x-lane'];
        return {
          user,
          status: res.statusCode,
          lane: lane === '-' || lane === undefined ? undefined : String(lane),
          version: Number(res.headers['x-rules-version']),
        };
      } catch (error) {
        return { user, status: 0, lane: undefined, version: Number.NaN, error: String(error) };
      }
    },
  };
}

/**
 * Sends `rate` requests per second (paced against the clock, so a slow tick catches up) with
 * random users until `stop()`, which resolves with every sample.
 */
export function steadyLoad(
  edge: LiveEdge,
  rate: number,
): { stop(): Promise<Sample[]>; achievedRate(): number } {
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  let sent = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((Date.now() - started) * rate) / 1000);
    while (sent < due) {
      const user = `load-${sent++}-${Math.random().toString(36).slice(2, 8)}`;
      const p = edge.send(user).then((s) => {
        samples.push(s);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    setTimeout(tick, 5);
  };
  tick();
  return {
    achievedRate() {
      return (sent * 1000) / Math.max(1, Date.now() - started);
    },
    async stop() {
      stopped = true;
      await Promise.all(inFlight);
      return samples;
    },
  };
}

/** Sends one request for each of `count` distinct users (`prefix-0`...), `concurrency` at a time. */
export async function measure(
  edge: LiveEdge,
  prefix: string,
  count: number,
  concurrency = 16,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        samples.push(await edge.send(`${prefix}-${i}`));
      }
    }),
  );
  return samples;
}

/** Polls `check` every 10 ms until it holds; throws after `timeoutMs`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
