import type { Lane } from '@graylane/core';
import { type LaneCarrierRecord, type LaneCarriers, rewriteBaggage, setLaneCarriers } from './lane-carriers';

/**
 * The parts of a Node `IncomingMessage` (or HTTP/2 compat `Http2ServerRequest`) that hold header
 * fields: Express's `req`, Fastify's `request.raw`, Koa's `ctx.req`.
 *
 * @example
 * settleLaneCarriers(request.raw satisfies CarrierMessage, lane, carriers); // Fastify
 */
export interface CarrierMessage {
  readonly headers: LaneCarrierRecord;
  readonly rawHeaders?: string[];
  readonly httpVersionMajor?: number;
  /** True once the whole message, trailers included, has been received. */
  readonly complete?: boolean;
  once?(event: 'end', listener: () => void): unknown;
}

interface Distinct {
  headersDistinct?: LaneCarrierRecord;
  trailers?: LaneCarrierRecord;
  trailersDistinct?: LaneCarrierRecord;
  rawTrailers?: string[];
}

/**
 * Makes every lane carrier of a Node request say `lane`, or nothing: {@link setLaneCarriers} on
 * `headers`, and the same on `rawHeaders` and `headersDistinct` when the client sent a carrier
 * there (duplicates and case variants live on in `rawHeaders` after Node joins them in `headers`),
 * so a proxy that forwards any of the three forwards the edge's lane only.
 *
 * Trailers: graylane never reads a lane from trailers, and the edge has decided before they can
 * arrive. When the request may carry trailers (chunked HTTP/1.1, or HTTP/2), every lane carrier is
 * removed from `trailers`, `rawTrailers` and `trailersDistinct` when the request body ends, before
 * a later `'end'` listener (a proxy copying trailers) sees them — or at once, when the message is
 * already `complete` (a body parser ran first).
 *
 * Call it once per request, after the lane is decided. Returns true when a carrier the client
 * sent said something else (it was rewritten or removed). Never throws on request input; costs
 * one pass over `rawHeaders` names (compared by length first) when they hold no carrier.
 *
 * @example
 * const carriers = compileLaneCarriers(); // once, at setup
 * // per request, once the lane is decided (undefined: the base lane):
 * settleLaneCarriers(req, rules.decide(req).lane, carriers);
 */
export function settleLaneCarriers(
  message: CarrierMessage,
  lane: Lane | undefined,
  carriers: LaneCarriers,
): boolean {
  let changed = setLaneCarriers(message.headers, lane, carriers);
  const raw = message.rawHeaders;
  if (Array.isArray(raw) && holdsCarrier(raw, carriers)) {
    // Node builds headersDistinct from rawHeaders (and a count taken at parse time) on first
    // read: build it now, before the raw list changes, then clean it too.
    const distinct = (message as Distinct).headersDistinct;
    if (rewriteRaw(raw, lane, carriers, false)) {
      changed = true;
      if (distinct !== undefined && distinct !== null) setLaneCarriers(distinct, lane, carriers);
    }
  }
  const major = message.httpVersionMajor;
  if (message.headers['transfer-encoding'] !== undefined || (typeof major === 'number' && major >= 2)) {
    // Trailers are parsed when the message is complete, before 'end' is emitted.
    if (message.complete === true) stripTrailers(message, carriers);
    else if (typeof message.once === 'function') {
      message.once('end', function stripTrailerLanes(this: CarrierMessage) {
        stripTrailers(this, carriers);
      });
    }
  }
  return changed;
}

function stripTrailers(message: CarrierMessage, carriers: LaneCarriers): void {
  const target = message as Distinct;
  const rawTrailers = target.rawTrailers;
  if (!Array.isArray(rawTrailers) || !holdsCarrier(rawTrailers, carriers)) return;
  // Build the lazy views from the raw list before it changes, then clean all three.
  const trailers = target.trailers;
  const distinct = target.trailersDistinct;
  if (!rewriteRaw(rawTrailers, undefined, carriers, true)) return;
  if (trailers !== undefined && trailers !== null) setLaneCarriers(trailers, undefined, carriers);
  if (distinct !== undefined && distinct !== null) setLaneCarriers(distinct, undefined, carriers);
}

/** Whether a raw `[name, value, …]` list names a lane carrier (in any case). */
function holdsCarrier(raw: readonly unknown[], carriers: LaneCarriers): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (typeof name === 'string' && carriers.carrierName(name) !== undefined) return true;
  }
  return false;
}

/**
 * Rewrites a raw `[name, value, name, value, …]` list in place when it holds a lane carrier: carrier
 * headers removed (in any case), `baggage` values rewritten, and — unless `trailer` — the lane
 * header appended with `lane`. Returns whether it changed anything.
 */
function rewriteRaw(
  raw: string[],
  lane: Lane | undefined,
  carriers: LaneCarriers,
  trailer: boolean,
): boolean {
  let changed = false;
  let write = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    const carrier = typeof name === 'string' ? carriers.carrierName(name) : undefined;
    if (carrier === 'baggage' && typeof value === 'string') {
      const rewritten = rewriteBaggage(value, trailer ? undefined : lane, carriers);
      if (rewritten !== value) changed = true;
      if (rewritten === undefined) continue;
      value = rewritten;
    } else if (carrier !== undefined) {
      changed = true;
      continue;
    }
    raw[write++] = name;
    raw[write++] = value;
  }
  raw.length = write;
  if (!trailer && changed) {
    for (const header of carriers.headers) {
      const value = header.spell === null ? lane : lane === undefined ? undefined : header.spell.get(lane);
      if (value !== undefined) raw.push(header.name, value);
    }
  }
  return changed;
}
