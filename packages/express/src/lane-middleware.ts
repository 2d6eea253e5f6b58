import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BASE_CONTEXT,
  type CompiledIngress,
  compileIngress,
  countIngress,
  createLaneContext,
  currentLaneContext,
  extractCarry,
  extractLane,
  type IngressOptions,
  type LaneContext,
  RECORD_GETTER,
  withLaneContext,
} from '@graylane/core';

/** Options of {@link laneMiddleware}: where to read the lane and which headers to carry. */
export interface LaneMiddlewareOptions extends IngressOptions {}

type Next = (err?: unknown) => void;
type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

// Symbol.for: two installed copies of this package agree on what was already bound.
const kOriginalEmit = Symbol.for('graylane.express.emit');
const kResource = Symbol.for('graylane.express.resource');

interface Bindable {
  emit: Emit;
  [kOriginalEmit]?: Emit;
  [kResource]?: AsyncResource;
}

/**
 * The `emit` installed on a bound request or response: one shared function, so binding costs
 * two property writes and no closure. (`AsyncResource.bind()` would allocate a bound function
 * and, in Node 20 to 24, define a deprecated property through `util.deprecate` on every call —
 * measured at tens of microseconds per request.)
 */
function laneBoundEmit(this: Bindable, ...args: [event: string | symbol, ...rest: unknown[]]): boolean {
  const original = this[kOriginalEmit]!;
  const resource = this[kResource];
  if (resource === undefined) return original.apply(this, args);
  return resource.runInAsyncScope(original, this, ...args);
}

/**
 * Makes every event later emitted on `emitter` run in the async context `resource` captured.
 * Node emits request-stream and response events ('data', 'end', 'finish', 'close') from the
 * socket's context, so a body parser that calls `next()` from 'end', or a `res.on('finish')`
 * listener, would otherwise run outside the lane. A later binding (a second middleware)
 * replaces an earlier one.
 */
function bindEmitter(emitter: Bindable, resource: AsyncResource): void {
  if (emitter[kOriginalEmit] === undefined) {
    emitter[kOriginalEmit] = emitter.emit;
    emitter.emit = laneBoundEmit as Emit;
  }
  emitter[kResource] = resource;
}

/** Binds `req` and `res` to the lane context the caller is running in. */
function bindRequest(req: IncomingMessage, res: ServerResponse): void {
  const resource = new AsyncResource('graylane.lane');
  bindEmitter(req as unknown as Bindable, resource);
  bindEmitter(res as unknown as Bindable, resource);
}

/** Enters `context`, binds the request's emitters to it, then continues the middleware chain. */
function enterLane(context: LaneContext, req: IncomingMessage, res: ServerResponse, next: Next): void {
  // One closure per request in a lane: cheap next to entering the context, and plain to read.
  withLaneContext(context, () => {
    bindRequest(req, res);
    next();
  });
}

/**
 * Express middleware (4 and 5) that reads the request's lane — `x-mse-tag`, then W3C `baggage`,
 * by default — and runs the rest of the request in that lane, so every outbound call the
 * handler makes carries it. An invalid tag is ignored and counted; the request goes on in the
 * base lane.
 *
 * The lane holds for the whole request: later middleware and handlers, async error handlers,
 * body parsers (`express.json()`, `express.urlencoded()`, …) placed before or after it, and
 * `req`/`res` event listeners such as `res.on('finish')`. A request in the base lane costs no
 * context switch and no allocation when no lane is active around the server.
 *
 * @param options where to read the lane (`header`, `sources`, `baggageKey`, …) and which
 *   headers to `carry` downstream; see `IngressOptions` in `@graylane/core`. Default: `x-mse-tag`
 *   then baggage `x-mse-tag`, nothing carried.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, at setup.
 * @example
 * const app = express();
 * app.use(laneMiddleware());
 * app.get('/', async (req, res) => res.json({ lane: currentLane() }));
 */
export function laneMiddleware(options: LaneMiddlewareOptions = {}) {
  const compiled: CompiledIngress = compileIngress(options);
  return function laneMiddleware(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const headers = req.headers;
    const lane = extractLane(headers, RECORD_GETTER, compiled);
    const carry = extractCarry(headers, RECORD_GETTER, compiled);
    countIngress(lane);
    const context = createLaneContext(lane, carry);
    // Base lane and nothing active around us: there is nothing to enter and nothing to leak.
    if (context === BASE_CONTEXT && currentLaneContext() === BASE_CONTEXT) {
      next();
      return;
    }
    enterLane(context, req, res, next);
  };
}
