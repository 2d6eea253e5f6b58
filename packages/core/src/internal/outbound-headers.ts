import { LANE_HEADER, MAX_CARRY_VALUE_LENGTH } from '../constants';
import { currentLaneContext, type LaneContext } from '../context';
import { channels, type InjectClient, type InjectMessage } from '../diagnostics';
import { InvalidOptionError } from '../errors';
import { HTTP_TOKEN } from '../http-token';
import { parseLane } from '../lane';

/**
 * How one client reads and writes the headers of an outbound request. One module constant per
 * client, never an object literal on the request path. Names passed in are lowercase.
 */
export interface HeaderAccess<C> {
  /** True when the request already carries `name` (any case). */
  has(carrier: C, name: string): boolean;
  /** Writes `name: value`; false when the request can no longer take headers. May throw. */
  set(carrier: C, name: string, value: string): boolean;
}

/** What to write, compiled once at setup. */
export interface OutboundConfig {
  /** Lowercase lane header name. */
  readonly header: string;
  /** Whether carried headers of the context are written too. */
  readonly carry: boolean;
}

/** Options shared by every outbound form (automatic hooks, interceptor, axios). */
export interface OutboundOptions {
  /** Header that carries the lane. Default `x-mse-tag`. */
  readonly header?: string | undefined;
  /** Also write the context's carried headers (see `IngressOptions.carry`). Default `true`. */
  readonly carry?: boolean | undefined;
}

/** Process-wide outbound counters (all clients, all forms). */
export interface OutboundCounters {
  injected: number;
  kept: number;
  unwritable: number;
  dropped: number;
  unintercepted: number;
  unpropagated: number;
}

export const outboundCounters: OutboundCounters = {
  injected: 0,
  kept: 0,
  unwritable: 0,
  dropped: 0,
  unintercepted: 0,
  unpropagated: 0,
};

export const DEFAULT_OUTBOUND: OutboundConfig = Object.freeze({ header: LANE_HEADER, carry: true });

/**
 * Validates outbound options once, at setup.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` naming the bad field.
 */
export function compileOutbound(options: OutboundOptions | undefined): OutboundConfig {
  if (options === undefined) return DEFAULT_OUTBOUND;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object');
  }
  const header = options.header ?? LANE_HEADER;
  if (typeof header !== 'string' || !HTTP_TOKEN.test(header)) {
    throw new InvalidOptionError('header', `${JSON.stringify(header)} is not a header name`);
  }
  const carry = options.carry ?? true;
  if (typeof carry !== 'boolean') throw new InvalidOptionError('carry', 'must be a boolean');
  const lower = header.toLowerCase();
  if (lower === LANE_HEADER && carry) return DEFAULT_OUTBOUND;
  return Object.freeze({ header: lower, carry });
}

/**
 * The synchronous frames of graylane's undici dispatch interceptor (`laneInterceptor`, and the one
 * `enablePropagation` composes onto the global dispatcher), shared with the `undici:request:create`
 * subscribers (`undici-hook.ts`, `propagation-watch.ts`). Plain numbers: nothing is allocated per request.
 *
 * - `depth`: interceptor frames on the stack. A request created while it is above 0 was created
 *   synchronously by a dispatch that went through the interceptor (already decided there).
 * - `created`: requests created inside a frame, so a frame can tell whether its request was.
 * - `pending`: requests the interceptor dispatched that undici has not created yet (queued behind
 *   a connection limit; they are created later, outside any frame). Counted only while `watching`.
 * - `watching`: a subscriber that uses the counts is on: the automatic mode's guard, or (while no
 *   propagation is enabled) the watch for a forgotten `enablePropagation()`. Never both.
 */
export const dispatchFrames = { depth: 0, created: 0, pending: 0, watching: false };

/**
 * The current lane context when it has something to write, else `undefined`. The hot path for
 * requests outside a lane: one store read, no allocation.
 */
export function outboundContext(): LaneContext | undefined {
  const context = currentLaneContext();
  return context.lane === undefined && context.carry === undefined ? undefined : context;
}

/** A carried value we forward: bounded, and only characters valid in an HTTP field value. */
function writableValue(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_CARRY_VALUE_LENGTH) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/**
 * Writes the lane header and the carried headers of `context` onto an outbound request. A header
 * the request already has is kept (the caller's explicit value wins). Never throws: a value that
 * cannot be written is counted and skipped.
 */
export function writeOutbound<C>(
  carrier: C,
  access: HeaderAccess<C>,
  context: LaneContext,
  config: OutboundConfig,
  client: InjectClient,
): void {
  const lane = context.lane;
  const header = config.header;
  if (lane !== undefined) {
    if (parseLane(lane) === undefined) {
      outboundCounters.dropped++;
    } else if (access.has(carrier, header)) {
      outboundCounters.kept++;
    } else if (trySet(carrier, access, header, lane)) {
      outboundCounters.injected++;
      if (channels.inject.hasSubscribers) {
        const message: InjectMessage = { lane, client, header };
        channels.inject.publish(message);
      }
    }
  }
  const carry = context.carry;
  if (carry === undefined || !config.carry) return;
  for (let i = 0; i < carry.length; i++) {
    const entry = carry[i]!;
    const name = entry[0];
    if (name === header) continue;
    // Checked here, not left to the client: a name undici rejects would fail the whole request
    // when written into dispatch options (laneInterceptor) instead of throwing in addHeader.
    if (!HTTP_TOKEN.test(name) || !writableValue(entry[1])) {
      outboundCounters.dropped++;
      continue;
    }
    if (!access.has(carrier, name)) trySet(carrier, access, name, entry[1]);
  }
}

function trySet<C>(carrier: C, access: HeaderAccess<C>, name: string, value: string): boolean {
  try {
    if (access.set(carrier, name, value)) return true;
    outboundCounters.unwritable++;
  } catch {
    outboundCounters.dropped++;
  }
  return false;
}

/** ASCII case-insensitive `a === lowerB` without allocating. `lowerB` must be lowercase. */
export function equalsLower(a: string, lowerB: string): boolean {
  const length = a.length;
  if (length !== lowerB.length) return false;
  for (let i = 0; i < length; i++) {
    let c = a.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerB.charCodeAt(i)) return false;
  }
  return true;
}

/** True when a record of headers (any key case) has `lowerName`. */
export function recordHas(headers: object, lowerName: string): boolean {
  const record = headers as Record<string, unknown>;
  if (record[lowerName] !== undefined) return true;
  for (const key in record) {
    if (equalsLower(key, lowerName) && record[key] !== undefined) return true;
  }
  return false;
}

/** True when a flat `[name, value, name, value, …]` list has `lowerName`. */
export function flatListHas(headers: readonly unknown[], lowerName: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const key = headers[i];
    if (typeof key === 'string' ? equalsLower(key, lowerName) : equalsLower(String(key), lowerName)) {
      return true;
    }
  }
  return false;
}
