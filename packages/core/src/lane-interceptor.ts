import type { LaneContext } from './context';
import {
  compileOutbound,
  flatListHas,
  type HeaderAccess,
  INTERCEPTED_HEADER,
  type OutboundConfig,
  type OutboundOptions,
  outboundContext,
  recordHas,
  undiciHookState,
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

/** Writes the context's headers (and the mark for the automatic hook) onto a copy of the caller's. */
function taggedOptions(
  opts: LaneDispatchOptions,
  context: LaneContext | undefined,
  config: OutboundConfig,
  mark: boolean,
): LaneDispatchOptions {
  const headers = copyHeaders(opts.headers);
  if (headers === null) return opts;
  if (Array.isArray(headers)) {
    if (context !== undefined) writeOutbound(headers, FLAT_ACCESS, context, config, 'interceptor');
    if (mark) headers.push(INTERCEPTED_HEADER, '1');
  } else {
    if (context !== undefined) writeOutbound(headers, RECORD_ACCESS, context, config, 'interceptor');
    if (mark) headers[INTERCEPTED_HEADER] = '1';
  }
  return withHeaders(opts, headers);
}

/**
 * An undici interceptor for `Dispatcher.compose` that writes the current lane (and carried
 * headers) onto each request at dispatch time. Needs no `enablePropagation` and patches nothing.
 * A request that already has the header keeps it; outside a lane the request passes untouched
 * (while `enablePropagation()`'s undici hook is installed it gets a private mark for the hook,
 * removed before it is sent). The caller's options object is never mutated.
 *
 * Prefer it over the automatic hook for dispatchers with a bounded `connections` limit: it tags
 * a request when it is dispatched, before undici queues it.
 *
 * @param options.header lane header, default `x-mse-tag`.
 * @param options.carry also write carried headers, default `true`.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options.
 * @example
 * import { Agent } from 'undici';
 * const dispatcher = new Agent({ connections: 8 }).compose(laneInterceptor());
 * await withLane('gray', () => request('http://svc-b/', { dispatcher })); // x-mse-tag: gray
 */
export function laneInterceptor(
  options?: LaneInterceptorOptions,
): <D extends LaneDispatch>(dispatch: D) => D {
  assertKnownOptions('laneInterceptor()', options, LANE_INTERCEPTOR_OPTION_KEYS);
  const config: OutboundConfig = compileOutbound(options);
  return function laneInterceptor<D extends LaneDispatch>(dispatch: D): D {
    const next = dispatch as unknown as Dispatch;
    const laneDispatch: Dispatch = function laneDispatch(this: unknown, opts, handler) {
      const context = outboundContext();
      // While the automatic hook is installed, every request is marked as decided here, in the
      // caller's context: undici may create it later (queued behind a connection limit, retried,
      // redirected) from another request's context, where the hook would read the wrong lane.
      const mark = undiciHookState.installed;
      if (context === undefined && !mark) return next.call(this, opts, handler);
      if (mark) undiciHookState.marked = true;
      return next.call(this, taggedOptions(opts, context, config, mark), handler);
    };
    return laneDispatch as unknown as D;
  };
}
