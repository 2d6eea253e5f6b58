import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  type CompiledIngress,
  compileIngress,
  FactoryNotCalledError,
  type IngressOptions,
  isIncomingRequest,
  requestLaneContext,
  runInRequestLane,
} from '@graylane/core';

/** Options of {@link laneKoa}: where to read the lane and which headers to carry (core's `IngressOptions`). */
export interface LaneKoaOptions extends IngressOptions {}

/**
 * What {@link laneKoa} reads of Koa's context: the Node request and response. Koa's `Context`
 * fits; declared here so this package's declarations compile without Koa's types.
 *
 * @example
 * const middleware: (ctx: LaneKoaContext, next: () => Promise<unknown>) => Promise<unknown> = laneKoa();
 */
export interface LaneKoaContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

const LANE_KOA_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  sources: 1,
  baggageKey: 1,
  baggageValues: 1,
  carry: 1,
} satisfies Record<keyof LaneKoaOptions, 1>);

/**
 * Koa middleware (Koa 2 and 3) that reads the request's lane — `x-mse-tag`, then W3C `baggage`,
 * by default — and runs every later middleware in that lane, before and after `await next()`:
 * body parsers placed before or after it, handlers, error-handling middleware upstream of it
 * once `next()` rejects, and every listener of `ctx.req` / `ctx.res` (`'finish'`, `'close'`).
 * An invalid tag is ignored and counted; the request goes on in the base lane, where the
 * middleware costs no context switch and no allocation.
 *
 * @param options ingress options (`header`, `sources`, `baggageKey`, `baggageValues`, `carry`).
 *   Default: `x-mse-tag`, then baggage `x-mse-tag`; nothing carried.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, at setup.
 * @example
 * const app = new Koa();
 * app.use(laneKoa());
 * app.use(async (ctx) => { ctx.body = { lane: currentLane() }; });
 */
export function laneKoa(
  options: LaneKoaOptions = {},
): (ctx: LaneKoaContext, next: () => Promise<unknown>) => Promise<unknown> {
  // `app.use(laneKoa)` hands the factory what Koa hands a middleware: (ctx, next). Koa answers the
  // thrown error with a 500 and emits it on the app's 'error' event (logged by default).
  if (isIncomingRequest((options as { req?: unknown }).req)) {
    throw new FactoryNotCalledError('laneKoa', 'app.use(laneKoa())');
  }
  assertKnownOptions('laneKoa()', options, LANE_KOA_OPTION_KEYS);
  const compiled: CompiledIngress = compileIngress(options);
  return function laneKoa(ctx: LaneKoaContext, next: () => Promise<unknown>): Promise<unknown> {
    return runInRequestLane(requestLaneContext(ctx.req.headers, compiled), ctx.req, ctx.res, next);
  };
}
