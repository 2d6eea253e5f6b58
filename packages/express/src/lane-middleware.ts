import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  type CompiledIngress,
  compileIngress,
  factoryNotCalled,
  type IngressOptions,
  isIncomingRequest,
  prebindServerRequests,
  requestLaneContext,
  runInRequestLane,
} from '@graylane/core';

/** Options of {@link laneMiddleware}: where to read the lane and which headers to carry. */
export interface LaneMiddlewareOptions extends IngressOptions {}

const LANE_MIDDLEWARE_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  sources: 1,
  baggageKey: 1,
  baggageValues: 1,
  carry: 1,
} satisfies Record<keyof LaneMiddlewareOptions, 1>);

type Next = (err?: unknown) => void;

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
export function laneMiddleware(
  options: LaneMiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  if (isIncomingRequest(options)) {
    // biome-ignore lint/complexity/noArguments: `app.use(laneMiddleware)` hands the factory (req, res, next)
    const next: unknown = arguments[2];
    return factoryNotCalled('laneMiddleware', 'app.use(laneMiddleware())', next);
  }
  assertKnownOptions('laneMiddleware()', options, LANE_MIDDLEWARE_OPTION_KEYS);
  const compiled: CompiledIngress = compileIngress(options);
  // Express re-prototypes req/res before any middleware runs; binding the requests that carry a
  // lane key when Node creates them keeps the binding below from adding a property after that
  // (about 10 µs per request on Node 22, see prebindServerRequests). Others are left alone.
  prebindServerRequests(compiled);
  return function laneMiddleware(req: IncomingMessage, res: ServerResponse, next: Next): void {
    // In the base lane, with no lane active around the server, this is just `next()`.
    runInRequestLane(requestLaneContext(req.headers, compiled), req, res, next);
  };
}
