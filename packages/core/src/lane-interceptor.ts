import type { LaneContext } from './context';
import type { InjectClient } from './diagnostics';
import {
  compileOutbound,
  dispatchFrames,
  flatListHas,
  type HeaderAccess,
  type OutboundConfig,
  type OutboundOptions,
  outboundContext,
  recordHas,
  writeOutbound,
} from './internal/outbound-headers';
import { assertKnownOptions } from './options';

/** Options of {@link laneInterceptor}. */
export interface LaneInterceptorOptions extends OutboundOptions {}

const LANE_INTERCEPTOR_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  carry: 1,
} satisfies Record<keyof LaneInterceptorOptions, 1>);

/** The part of undici's `DispatchOptions` the interceptor reads. */
export interface LaneDispatchOptions {
  readonly headers?: unknown | undefined;
}

/** An undici dispatch function (`Dispatcher['dispatch']`). */
export type LaneDispatch = (options: never, handler: never) => boolean;

type Dispatch = (options: LaneDispatchOptions, handler: unknown) => boolean;

/** The header list a request is tagged on: a copy of the caller's, in the caller's shape. */
type HeaderCopy = unknown[] | Record<string, unknown>;

const FLAT_ACCESS: HeaderAccess<unknown[]> = {
  has: flatListHas,
  set(headers, name, value) {
    headers.push(name, value);
    return true;
  },
};

const RECORD_ACCESS: HeaderAccess<Record<string, unknown>> = {
  has: recordHas,
  set(headers, name, value) {
    headers[name] = value;
    return true;
  },
};

/**
 * A copy of `source` that headers can be added to: a record stays a record, an array stays an
 * array, an iterable of pairs (`Map`, `Headers`) becomes a flat array, nothing becomes `[]`.
 * `null` for a value undici rejects anyway.
 */
function copyHeaders(source: unknown): HeaderCopy | null {
  if (source === undefined || source === null) return [];
  if (typeof source !== 'object') return null;
  if (Array.isArray(source)) return source.slice();
  if (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const flat: unknown[] = [];
    for (const pair of source as Iterable<unknown>) {
      if (Array.isArray(pair)) flat.push(pair[0], pair[1]);
    }
    return flat;
  }
  // Not `{ ...source }`: on Node 20 (V8 11.3) adding a key to a spread copy takes ~650 ns.
  return Object.assign({}, source as Record<string, unknown>);
}

/** `{ ...opts, headers }`, without Node 20's slow path when `opts` has no `headers` key. */
function withHeaders(opts: LaneDispatchOptions, headers: HeaderCopy): LaneDispatchOptions {
  if (Object.hasOwn(opts, 'headers')) return { ...opts, headers };
  const copy: { headers?: unknown } = Object.assign({}, opts);
  copy.headers = headers;
  return copy;
}

/** Writes the context's headers onto a copy of the caller's options; the caller's when it cannot. */
function taggedOptions(
  opts: LaneDispatchOptions,
  context: LaneContext,
  config: OutboundConfig,
  client: InjectClient,
): LaneDispatchOptions {
  const headers = copyHeaders(opts.headers);
  if (headers === null) return opts;
  if (Array.isArray(headers)) writeOutbound(headers, FLAT_ACCESS, context, config, client);
  else writeOutbound(headers, RECORD_ACCESS, context, config, client);
  return withHeaders(opts, headers);
}

/**
 * The interceptor: `dispatch` wrapped so that the lane is decided when the request is DISPATCHED,
 * in the caller's synchronous frame. That is the one point where undici runs in the caller's
 * async context for every client: `request`/`stream`/`pipeline` dispatch synchronously from the
 * call, and `fetch` dispatches from its own promise chain, which continues the caller's context.
 * Later points are not: a Pool or Agent with a `connections` limit queues the dispatch and creates
 * the request from another request's socket callback, and retry/redirect interceptors re-dispatch
 * from socket callbacks too. So the lane is written into the options here, before any queue;
 * whatever undici does with the options afterwards (queue, retry, redirect) carries it along.
 * Put it LAST in `compose(...)` (outermost), so that interceptors which re-dispatch run inside it.
 *
 * Outside a lane the caller's options object is handed on as it is: nothing is allocated.
 * The frame counters let the automatic mode's `undici:request:create` guard tell requests that
 * went through here from requests that did not (see `undici-hook.ts`).
 * @internal Also composed onto the global dispatcher by `enablePropagation`.
 */
export function laneDispatchInterceptor(
  config: OutboundConfig,
  client: InjectClient,
): <D extends LaneDispatch>(dispatch: D) => D {
  return function laneInterceptor<D extends LaneDispatch>(dispatch: D): D {
    const next = dispatch as unknown as Dispatch;
    // Two declared parameters: undici's compose checks `dispatch.length === 2`.
    const laneDispatch: Dispatch = function laneDispatch(this: unknown, opts, handler) {
      const context = outboundContext();
      const frames = dispatchFrames;
      const createdBefore = frames.created;
      frames.depth++;
      let accepted: boolean;
      try {
        accepted = next.call(
          this,
          context === undefined ? opts : taggedOptions(opts, context, config, client),
          handler,
        );
      } finally {
        frames.depth--;
      }
      // Not created synchronously: undici queued it and will create it outside any frame.
      if (frames.watching && frames.created === createdBefore) frames.pending++;
      return accepted;
    };
    return laneDispatch as unknown as D;
  };
}

/**
 * An undici interceptor for `Dispatcher.compose` that writes the current lane (and carried
 * headers) onto each request when it is dispatched — in the caller's frame, before undici queues
 * it behind a connection limit — so every request keeps its own lane whatever the dispatcher's
 * `connections`, `pipelining` or interceptor chain. Needs no `enablePropagation` and patches
 * nothing. A request that already has the header keeps it; outside a lane the request passes
 * untouched (the caller's options object itself, nothing allocated). The caller's options object
 * is never mutated.
 *
 * This is the supported form for every dispatcher you construct and pass explicitly
 * (`Pool`, `Agent`, `Client`, `{ dispatcher }` options): `enablePropagation()` reaches only the
 * global dispatcher. Compose it LAST, so it runs before interceptors that re-dispatch
 * (retry, redirect).
 *
 * @param options.header lane header, default `x-mse-tag`.
 * @param options.carry also write carried headers, default `true`.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options.
 * @example
 * import { Agent, interceptors } from 'undici';
 * const dispatcher = new Agent({ connections: 8 }).compose(interceptors.retry(), laneInterceptor());
 * await withLane('gray', () => request('http://svc-b/', { dispatcher })); // x-mse-tag: gray
 */
export function laneInterceptor(
  options?: LaneInterceptorOptions,
): <D extends LaneDispatch>(dispatch: D) => D {
  assertKnownOptions('laneInterceptor()', options, LANE_INTERCEPTOR_OPTION_KEYS);
  return laneDispatchInterceptor(compileOutbound(options), 'interceptor');
}
