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

/** Options of {@link laneInterceptor}. */
export interface LaneInterceptorOptions extends OutboundOptions {}

/** The part of undici's `DispatchOptions` the interceptor reads. */
export interface LaneDispatchOptions {
  readonly headers?: unknown;
}

/** An undici dispatch function (`Dispatcher['dispatch']`). */
export type LaneDispatch = (options: never, handler: never) => boolean;

type Dispatch = (options: LaneDispatchOptions, handler: unknown) => boolean;

/**
 * Headers to add, collected without touching the caller's options; merged into a copy only when
 * something was added.
 */
class PendingHeaders {
  readonly source: unknown;
  added: string[] | undefined = undefined;

  constructor(source: unknown) {
    this.source = source;
  }
}

function sourceHas(source: unknown, name: string): boolean {
  if (source === undefined || source === null) return false;
  if (Array.isArray(source)) return flatListHas(source, name);
  if (typeof source !== 'object') return false;
  if (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of source as Iterable<unknown>) {
      if (Array.isArray(pair) && flatListHas(pair, name)) return true;
    }
    return false;
  }
  return recordHas(source, name);
}

const PENDING_ACCESS: HeaderAccess<PendingHeaders> = {
  has(pending, name) {
    return (
      sourceHas(pending.source, name) || (pending.added !== undefined && flatListHas(pending.added, name))
    );
  },
  set(pending, name, value) {
    if (pending.added === undefined) pending.added = [];
    pending.added.push(name, value);
    return true;
  },
};

function mergeHeaders(source: unknown, added: string[]): unknown {
  if (source === undefined || source === null) return added;
  if (Array.isArray(source)) return [...source, ...added];
  if (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const flat: unknown[] = [];
    for (const pair of source as Iterable<unknown>) {
      if (Array.isArray(pair)) flat.push(pair[0], pair[1]);
    }
    return [...flat, ...added];
  }
  const record: Record<string, unknown> = { ...(source as Record<string, unknown>) };
  for (let i = 0; i < added.length; i += 2) record[added[i]!] = added[i + 1];
  return record;
}

/**
 * An undici interceptor for `Dispatcher.compose` that writes the current lane (and carried
 * headers) onto each request at dispatch time. Needs no `enablePropagation` and patches nothing.
 * A request that already has the header keeps it; outside a lane the request passes untouched.
 * The caller's options object is never mutated.
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
  const config: OutboundConfig = compileOutbound(options);
  return function laneInterceptor<D extends LaneDispatch>(dispatch: D): D {
    const next = dispatch as unknown as Dispatch;
    const laneDispatch: Dispatch = function laneDispatch(this: unknown, opts, handler) {
      const context = outboundContext();
      // While the automatic hook is installed, mark the request as decided here, in the
      // caller's context, so the hook keeps out even if undici creates it later elsewhere.
      const mark = undiciHookState.installed;
      if (context === undefined && !mark) return next.call(this, opts, handler);
      const pending = new PendingHeaders(opts.headers);
      if (context !== undefined) writeOutbound(pending, PENDING_ACCESS, context, config, 'interceptor');
      if (mark) {
        PENDING_ACCESS.set(pending, INTERCEPTED_HEADER, '1');
        undiciHookState.marked = true;
      }
      if (pending.added === undefined) return next.call(this, opts, handler);
      return next.call(this, { ...opts, headers: mergeHeaders(opts.headers, pending.added) }, handler);
    };
    return laneDispatch as unknown as D;
  };
}
