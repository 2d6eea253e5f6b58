import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CompiledIngress,
  compileIngress,
  countIngress,
  createLaneContext,
  extractCarry,
  extractLane,
  type IngressOptions,
  RECORD_GETTER,
  withLaneContext,
} from '@graylane/core';

/** Options of {@link laneMiddleware}: where to read the lane and which headers to carry. */
export interface LaneMiddlewareOptions extends IngressOptions {}

type Next = (err?: unknown) => void;

/**
 * Express middleware (4 and 5) that reads the request's lane — `x-mse-tag`, then W3C `baggage`,
 * by default — and runs the rest of the request in that lane, so every outbound call the
 * handler makes carries it. An invalid tag is ignored and counted; the request goes on in the
 * base lane.
 *
 * @example
 * const app = express();
 * app.use(laneMiddleware());
 * app.get('/', async (req, res) => res.json({ lane: currentLane() }));
 */
export function laneMiddleware(options: LaneMiddlewareOptions = {}) {
  const compiled: CompiledIngress = compileIngress(options);
  return function laneMiddleware(req: IncomingMessage, _res: ServerResponse, next: Next): void {
    const headers = req.headers;
    const lane = extractLane(headers, RECORD_GETTER, compiled);
    const carry = extractCarry(headers, RECORD_GETTER, compiled);
    countIngress(lane);
    withLaneContext(createLaneContext(lane, carry), next);
  };
}
