import diagnosticsChannel from 'node:diagnostics_channel';
import type { LaneContext } from './context';
import {
  equalsLower,
  flatListHas,
  type HeaderAccess,
  INTERCEPTED_HEADER,
  type OutboundConfig,
  outboundContext,
  outboundCounters,
  undiciHookState,
  writeOutbound,
} from './internal/outbound-headers';

/**
 * The part of an undici `Request` we use, as published on `undici:request:create`. undici 6+
 * keeps headers as a flat `[name, value, …]` array; undici 5 kept a raw `name: value\r\n` string.
 */
interface UndiciRequest {
  readonly headers: unknown;
  addHeader(name: string, value: string): unknown;
}

const UNDICI_ACCESS: HeaderAccess<UndiciRequest> = {
  has(request, name) {
    const headers = request.headers;
    if (Array.isArray(headers)) return flatListHas(headers, name);
    if (typeof headers === 'string') return rawHas(headers, name);
    return false;
  },
  set(request, name, value) {
    request.addHeader(name, value);
    return true;
  },
};

function rawHas(raw: string, name: string): boolean {
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf('\r\n', start);
    if (end === -1) end = raw.length;
    const colon = raw.indexOf(':', start);
    if (colon !== -1 && colon < end && equalsLower(raw.slice(start, colon).trim(), name)) return true;
    start = end + 2;
  }
  return false;
}

/** Removes the mark `laneInterceptor` leaves on the requests it handled; true when it was there. */
function removeIntercepted(request: UndiciRequest): boolean {
  const headers = request.headers;
  if (!Array.isArray(headers)) return false;
  // The mark is appended last by the interceptor, unless a later interceptor added headers.
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i] === INTERCEPTED_HEADER) {
      // Shifted down in place: splice would allocate an array for the removed pair.
      for (let j = i + 2; j < headers.length; j++) headers[j - 2] = headers[j];
      headers.length -= 2;
      return true;
    }
  }
  return false;
}

// undici keeps the dispatch handler under a private `Symbol('handler')` (undici 5, 6 and 7). Found
// once per Request class; `null` when a version has none.
const handlerKeys = new WeakMap<object, symbol | null>();

function handlerOf(request: UndiciRequest): unknown {
  const proto = Object.getPrototypeOf(request) as object | null;
  if (proto === null) return undefined;
  let key = handlerKeys.get(proto);
  if (key === undefined) {
    key = Object.getOwnPropertySymbols(request).find((s) => s.description === 'handler') ?? null;
    handlerKeys.set(proto, key);
  }
  return key === null ? undefined : (request as unknown as Record<symbol, unknown>)[key];
}

interface ScopedHandler {
  runInAsyncScope<R>(fn: () => R): R;
  readonly handler?: unknown;
}

// How far down `.handler` (redirect and retry handlers wrap the caller's) we look.
const MAX_HANDLER_DEPTH = 4;
/**
 * The lane context the request was dispatched in. undici may create a request later than its
 * dispatch — queued behind a `connections` limit, then created from another request's socket
 * callback — so the ambient context is not always the caller's. undici's own API handlers
 * (`request`, `stream`, `pipeline`, …) are AsyncResources created in the caller's context: read
 * the lane inside their scope. Other handlers (fetch) fall back to the ambient context.
 */
function dispatchContext(request: UndiciRequest): LaneContext | undefined {
  let handler = handlerOf(request);
  for (let depth = 0; depth < MAX_HANDLER_DEPTH; depth++) {
    if (typeof handler !== 'object' || handler === null) break;
    if (typeof (handler as ScopedHandler).runInAsyncScope === 'function') {
      return (handler as ScopedHandler).runInAsyncScope(outboundContext);
    }
    handler = (handler as ScopedHandler).handler;
  }
  return outboundContext();
}

// Both the undici package and Node's bundled undici (global fetch) publish on this name.
const createChannel = diagnosticsChannel.channel('undici:request:create');
let config: OutboundConfig | null = null;

function onUndiciRequestCreate(message: unknown): void {
  const active = config;
  if (active === null) return;
  const request = (message as { request?: UndiciRequest } | null)?.request;
  if (request === undefined || request === null || typeof request.addHeader !== 'function') return;
  // A subscriber that throws would surface as an uncaught exception: never let one escape.
  try {
    if (undiciHookState.marked && removeIntercepted(request)) return;
    const context = dispatchContext(request);
    if (context === undefined) return;
    writeOutbound(request, UNDICI_ACCESS, context, active, 'undici');
  } catch {
    outboundCounters.dropped++;
  }
}

/**
 * Subscribes to `undici:request:create`, covering undici's `request`/`fetch`/`Pool`/`Agent`/`Client`
 * and Node's global `fetch`. The request is tagged from the async context it was dispatched in
 * (see {@link dispatchContext}); requests `laneInterceptor` already decided are left alone.
 * @internal Used by `enablePropagation` only.
 */
export function installUndiciHook(outbound: OutboundConfig): void {
  config = outbound;
  undiciHookState.installed = true;
  createChannel.subscribe(onUndiciRequestCreate);
}

/** Undoes {@link installUndiciHook}. @internal */
export function uninstallUndiciHook(): void {
  createChannel.unsubscribe(onUndiciRequestCreate);
  undiciHookState.installed = false;
  undiciHookState.marked = false;
  config = null;
}
