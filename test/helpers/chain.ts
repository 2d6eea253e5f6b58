import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { TestContext } from 'node:test';
import { currentLane, LANE_HEADER } from '@graylane/core';
import { type LaneMiddlewareOptions, laneMiddleware } from '@graylane/express';
import express from 'express';
import { listen } from './listen';
import type { TlsPair } from './tls';

/** Calls `url` with GET and optional extra headers; resolves with the response body as text. */
export type HopClient = (url: string, headers?: Record<string, string>) => Promise<string>;

/** What one hop saw, and what the hop it called reported. */
export interface HopReport {
  readonly hop: string;
  /** The raw lane header the hop received, or null. */
  readonly header: string | null;
  /** `currentLane()` inside the hop's handler, or null. */
  readonly lane: string | null;
  readonly next: HopReport | null;
}

/** The Express factory a chain is built with: `express` (5) or `express4`. */
export type ExpressFactory = () => express.Express;

export interface ChainOptions {
  /** The client every hop uses to call the next one (no lane code around it). */
  readonly client: HopClient;
  /** Hop names, first = edge, last = the final hop. Default `['edge', 'a', 'b']`. */
  readonly hops?: readonly string[];
  /** Default Express 5. */
  readonly express?: ExpressFactory;
  /** Serve every hop over HTTPS with this certificate. */
  readonly tls?: TlsPair;
  /** laneMiddleware options of every hop. */
  readonly middleware?: LaneMiddlewareOptions;
  /** Run in each forwarding handler before the outbound call (e.g. timers, I/O). */
  readonly beforeCall?: () => Promise<unknown>;
  /** Extra request headers each hop reports back, e.g. carried ones. */
  readonly report?: readonly string[];
}

export interface Chain {
  /** URL of the edge hop. */
  readonly url: string;
  /**
   * Sends a GET to the edge (outside any lane) and returns the edge's report.
   * `explicit` makes the edge's handler pass `X-Mse-Tag: <explicit>` itself on its outbound call.
   */
  send(headers?: Record<string, string>, explicit?: string): Promise<HopReport>;
}

function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Starts a chain of Express hops on loopback port 0 (edge -> a -> b by default). Each hop runs
 * `laneMiddleware()`; each non-final hop calls the next with `options.client` and no lane code.
 * Servers are closed in `t.after`.
 */
export async function startChain(t: TestContext, options: ChainOptions): Promise<Chain> {
  const names = options.hops ?? ['edge', 'a', 'b'];
  const make = options.express ?? (express as unknown as ExpressFactory);
  const scheme = options.tls === undefined ? 'http' : 'https';
  let nextUrl: string | undefined;
  // Start from the last hop so each knows the URL of the next.
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i]!;
    const app = make();
    app.use(laneMiddleware(options.middleware));
    const target = nextUrl;
    app.get('/', async (req, res, next) => {
      try {
        const extra: Record<string, string | null> = {};
        for (const key of options.report ?? []) extra[key] = header(req.headers[key]);
        let downstream: HopReport | null = null;
        if (target !== undefined) {
          if (options.beforeCall !== undefined) await options.beforeCall();
          const explicit = typeof req.query.explicit === 'string' ? req.query.explicit : undefined;
          const body = await options.client(
            target,
            explicit === undefined ? undefined : { 'X-Mse-Tag': explicit },
          );
          downstream = JSON.parse(body) as HopReport;
        }
        res.json({
          hop: name,
          header: header(req.headers[LANE_HEADER]),
          lane: currentLane() ?? null,
          ...extra,
          next: downstream,
        });
      } catch (error) {
        next(error);
      }
    });
    const server =
      options.tls === undefined ? createHttpServer(app) : createHttpsServer({ ...options.tls }, app);
    // Well above any client's idle timeout: a server closing an idle keep-alive socket just as a
    // client reuses it is a transport race these tests are not about.
    server.keepAliveTimeout = 30_000;
    const port = await listen(server, t);
    nextUrl = `${scheme}://127.0.0.1:${port}/`;
  }
  const url = nextUrl!;
  return {
    url,
    send(headers = {}, explicit) {
      const target = explicit === undefined ? url : `${url}?explicit=${encodeURIComponent(explicit)}`;
      return sendRaw(target, headers, options.tls).then((body) => JSON.parse(body) as HopReport);
    },
  };
}

/** A plain GET with no pooling (agent: false), for driving a chain from the test. */
export function sendRaw(url: string, headers: Record<string, string>, tls?: TlsPair): Promise<string> {
  return new Promise((resolve, reject) => {
    const call = tls === undefined ? httpRequest : httpsRequest;
    const req = call(
      url,
      { headers, agent: false, ...(tls === undefined ? {} : { ca: tls.cert }) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}: ${body}`));
          else resolve(body);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The lane header each hop received, edge first. */
export function headersSeen(report: HopReport): Array<string | null> {
  const out: Array<string | null> = [];
  for (let hop: HopReport | null = report; hop !== null; hop = hop.next) out.push(hop.header);
  return out;
}

/** `currentLane()` at each hop, edge first. */
export function lanesSeen(report: HopReport): Array<string | null> {
  const out: Array<string | null> = [];
  for (let hop: HopReport | null = report; hop !== null; hop = hop.next) out.push(hop.lane);
  return out;
}
