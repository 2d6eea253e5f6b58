import * as diagnosticsChannel from 'node:diagnostics_channel';
import {
  dispatchFrames,
  flatListHas,
  type OutboundConfig,
  outboundContext,
  outboundCounters,
} from './internal/outbound-headers';
import { warnOnce } from './internal/warn-once';
import { type LaneDispatch, laneDispatchInterceptor } from './lane-interceptor';

// How the automatic mode reaches undici, with public API only.
//
// undici decides where a request goes when it is DISPATCHED, but creates the request object — and
// publishes `undici:request:create` — only when a connection takes it. With a `connections` limit,
// a Pool or Agent queues the dispatch and creates the request later, from the 'drain' of another
// request's connection, i.e. in THAT request's async context; retry and redirect interceptors
// re-dispatch from socket callbacks too. No public field of the created request says who
// dispatched it, so tagging at creation is wrong for exactly the production settings that matter.
//
// So the lane is bound at dispatch time, by `laneInterceptor`, which `enablePropagation()` puts in
// front of the GLOBAL dispatcher through undici's public `getGlobalDispatcher`/`setGlobalDispatcher`
// and a subclass of its public `Dispatcher` that forwards every call. That one dispatcher is shared by npm undici (`request`, `stream`,
// `pipeline`, `fetch` without a `dispatcher` option) and Node's bundled undici (global `fetch`,
// and so axios's fetch adapter), whichever major each is. Dispatchers an application constructs
// itself (`Pool`, `Agent`, `Client`, `{ dispatcher }`) are not reachable through any public API:
// for those `laneInterceptor()` is the supported form.
//
// `undici:request:create` is kept as a guard, never to write: a request created outside any
// interceptor frame, in a lane, without the lane header, and not accounted for as queued by the
// interceptor, most likely did not go through graylane — it is counted (`unintercepted`) and
// warned about once. It cannot be told apart from a base-lane request that an interceptor
// composed UNDER ours (redirect, retry) re-dispatches from a lane request's socket callback: that
// one is counted too, though its (absent) lane was decided correctly at its first dispatch. The
// counter over-reports then; no lane on the wire is affected. The global dispatcher replaced after
// `enablePropagation()` is noticed here as well and wrapped again.

/** The part of the `undici` package the automatic mode uses: its public global-dispatcher API. */
interface UndiciGlobalApi {
  getGlobalDispatcher(): unknown;
  setGlobalDispatcher(dispatcher: unknown): void;
  /** The public base class every dispatcher extends. */
  Dispatcher: new () => object;
}

/** The dispatcher methods the lane dispatcher forwards to the one it wraps. */
interface Forwardable {
  dispatch(opts: unknown, handler: unknown): boolean;
  close(...args: unknown[]): unknown;
  destroy(...args: unknown[]): unknown;
}

/** Warning codes of the automatic undici mode. */
const UNDICI_WARNINGS = Object.freeze({
  unavailable: 'GL_WARN_UNDICI_UNAVAILABLE',
  replaced: 'GL_WARN_GLOBAL_DISPATCHER_REPLACED',
  unintercepted: 'GL_WARN_UNDICI_UNINTERCEPTED',
});

/** The part of an undici `Request` (as published on `undici:request:create`) the guard reads. */
interface UndiciRequest {
  readonly headers: unknown;
}

function loadUndici(): UndiciGlobalApi | null {
  try {
    // Optional peer dependency, loaded on enable only: core has no runtime dependencies.
    const undici = require('undici') as Partial<UndiciGlobalApi> | null;
    if (
      typeof undici?.getGlobalDispatcher === 'function' &&
      typeof undici.setGlobalDispatcher === 'function' &&
      typeof undici.Dispatcher === 'function'
    ) {
      return undici as UndiciGlobalApi;
    }
  } catch {
    // Reported by the caller.
  }
  return null;
}

const createChannel = diagnosticsChannel.channel('undici:request:create');

let config: OutboundConfig | null = null;
let api: UndiciGlobalApi | null = null;
let interceptor: ((dispatch: LaneDispatch) => LaneDispatch) | null = null;
/** The global dispatcher graylane set (the user's, composed), and the one it was composed from. */
let installed: unknown = null;
let underlying: unknown = null;

/**
 * A dispatcher that runs the lane interceptor on every `dispatch()` and forwards to the global
 * dispatcher it wraps, handler untouched. Not `Dispatcher.compose()`: compose wraps every handler
 * twice and re-encodes each response's headers, which bench/hop measured at 5-9 µs per request
 * (bench/results/hop.md); this forwarding subclass of undici's public `Dispatcher` costs nothing
 * measurable there.
 */
function laneGlobalDispatcher(
  undici: UndiciGlobalApi,
  inner: Forwardable,
  intercept: typeof interceptor,
): object {
  const dispatchInner: LaneDispatch = (opts, handler) => inner.dispatch(opts, handler);
  const dispatchInLane = (intercept as (dispatch: LaneDispatch) => LaneDispatch)(dispatchInner);
  const Base = undici.Dispatcher as unknown as new () => Forwardable;
  class LaneGlobalDispatcher extends Base {
    override dispatch(opts: unknown, handler: unknown): boolean {
      return dispatchInLane(opts as Parameters<LaneDispatch>[0], handler as Parameters<LaneDispatch>[1]);
    }
    override close(...args: unknown[]): unknown {
      return inner.close(...args);
    }
    override destroy(...args: unknown[]): unknown {
      return inner.destroy(...args);
    }
  }
  return new LaneGlobalDispatcher();
}

/** Wraps the current global dispatcher in the lane dispatcher; false when it cannot. */
function composeGlobal(): boolean {
  const undici = api;
  if (undici === null || interceptor === null) return false;
  const current = undici.getGlobalDispatcher() as Partial<Forwardable> | null;
  if (typeof current?.dispatch !== 'function') {
    installed = null;
    warnOnce(
      UNDICI_WARNINGS.unavailable,
      'graylane: the global undici dispatcher has no dispatch(); global fetch and undici requests are NOT tagged with the lane. Set an undici Agent with setGlobalDispatcher() before enablePropagation(), or pass a dispatcher composed with laneInterceptor().',
    );
    return false;
  }
  const wrapped = laneGlobalDispatcher(undici, current as Forwardable, interceptor);
  undici.setGlobalDispatcher(wrapped);
  underlying = current;
  installed = wrapped;
  return true;
}

function hasLaneHeader(request: UndiciRequest, header: string): boolean {
  const headers = request.headers;
  // undici 6 and 7 keep a flat [name, value, ...] list; anything else: assume present, stay quiet.
  return Array.isArray(headers) ? flatListHas(headers, header) : true;
}

function onUndiciRequestCreate(message: unknown): void {
  const frames = dispatchFrames;
  if (frames.depth > 0) {
    // Created synchronously by a dispatch that went through the interceptor.
    frames.created++;
    return;
  }
  const active = config;
  if (active === null) return;
  // A subscriber that throws would surface as an uncaught exception: never let one escape.
  try {
    if (installed !== null && api !== null && api.getGlobalDispatcher() !== installed) {
      // setGlobalDispatcher() after enablePropagation(): compose onto the new one from now on.
      warnOnce(
        UNDICI_WARNINGS.replaced,
        'graylane: the global undici dispatcher was replaced after enablePropagation(); the lane interceptor was composed onto the new one, but requests dispatched in between were sent without their lane. Call setGlobalDispatcher() before enablePropagation().',
      );
      composeGlobal();
    }
    if (frames.pending > 0) {
      // Most likely a request the interceptor dispatched and undici queued: already decided.
      frames.pending--;
      return;
    }
    const context = outboundContext();
    if (context === undefined || context.lane === undefined) return;
    const request = (message as { request?: UndiciRequest } | null)?.request;
    if (request === undefined || request === null || hasLaneHeader(request, active.header)) return;
    outboundCounters.unintercepted++;
    warnOnce(
      UNDICI_WARNINGS.unintercepted,
      `graylane: an undici request was created in lane '${context.lane}' without passing laneInterceptor(), so it was sent WITHOUT a lane: undici may create requests after their dispatch, in another request's context, and graylane does not guess. Usually a Pool, Agent or Client used directly or passed as { dispatcher }: compose laneInterceptor() onto it (dispatcher.compose(laneInterceptor())). (A redirect or retry re-dispatched by an interceptor composed under laneInterceptor() is counted too; that one is harmless: its lane was decided at its first dispatch.)`,
    );
  } catch {
    outboundCounters.dropped++;
  }
}

/**
 * Composes `laneInterceptor` onto undici's global dispatcher (shared by npm undici and Node's
 * global fetch) and subscribes the `undici:request:create` guard. Warns once
 * (`GL_WARN_UNDICI_UNAVAILABLE`) when the `undici` package cannot be loaded or the global
 * dispatcher cannot be composed: then nothing undici sends is tagged automatically.
 * @internal Used by `enablePropagation` only.
 */
export function installUndiciHook(outbound: OutboundConfig): void {
  config = outbound;
  interceptor = laneDispatchInterceptor(outbound, 'undici') as unknown as (
    dispatch: LaneDispatch,
  ) => LaneDispatch;
  api = loadUndici();
  if (api === null) {
    warnOnce(
      UNDICI_WARNINGS.unavailable,
      "graylane: enablePropagation() could not load the 'undici' package, so global fetch and undici requests are NOT tagged with the lane. npm install undici (its setGlobalDispatcher() is the public way to reach global fetch's dispatcher), or pass { undici: false } and compose laneInterceptor() yourself.",
    );
  } else {
    composeGlobal();
  }
  dispatchFrames.pending = 0;
  dispatchFrames.watching = true;
  createChannel.subscribe(onUndiciRequestCreate);
}

/** Undoes {@link installUndiciHook}: the global dispatcher is put back unless it was replaced since. */
export function uninstallUndiciHook(): void {
  createChannel.unsubscribe(onUndiciRequestCreate);
  dispatchFrames.watching = false;
  dispatchFrames.pending = 0;
  if (api !== null && installed !== null && api.getGlobalDispatcher() === installed) {
    api.setGlobalDispatcher(underlying);
  }
  installed = null;
  underlying = null;
  interceptor = null;
  api = null;
  config = null;
}
