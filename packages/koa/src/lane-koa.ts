import {
  type CompiledIngress,
  compileIngress,
  type IngressOptions,
  requestLaneContext,
  runInRequestLane,
} from '@graylane/core';
import type { Context, Next } from 'koa';

/** Options of {@link laneKoa}: where to read the lane and which headers to carry (core's `IngressOptions`). */
export interface LaneKoaOptions extends IngressOptions {}

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
export function laneKoa(options: LaneKoaOptions = {}) {
  const compiled: CompiledIngress = compileIngress(options);
  return function laneKoa(ctx: Context, next: Next): Promise<unknown> {
    return runInRequestLane(requestLaneContext(ctx.req.headers, compiled), ctx.req, ctx.res, next);
  };
}
