import { GraylaneError, InvalidOptionError } from './errors';
import { type HttpHookMode, hasRequestCreatedChannel, installHttpHook, uninstallHttpHook } from './http-hook';
import {
  compileOutbound,
  type OutboundConfig,
  type OutboundOptions,
  outboundCounters,
} from './internal/outbound-headers';
import { pausePropagationWatch, silencePropagationWatch } from './internal/propagation-watch';
import { assertKnownOptions } from './options';
import { enableOpenTelemetryBridge, type OpenTelemetryBridge } from './otel-bridge';
import { installUndiciHook, uninstallUndiciHook } from './undici-hook';

/** Options of {@link enablePropagation}. Every field is optional. */
export interface PropagationOptions extends OutboundOptions {
  /**
   * Tag undici and Node's global `fetch` by composing `laneInterceptor()` onto undici's global
   * dispatcher (npm `undici`'s public `getGlobalDispatcher`/`setGlobalDispatcher`; needs the
   * `undici` package). Covers `fetch`, undici's `request`/`stream`/`pipeline`/`fetch` without a
   * `dispatcher` option and axios's fetch adapter, whatever the global dispatcher's connection
   * limit, pipelining or interceptors. Dispatchers you pass explicitly need `laneInterceptor()`;
   * requests that bypass it in a lane are counted (`unintercepted`) and warned about once.
   * Default `true`.
   */
  readonly undici?: boolean | undefined;
  /**
   * Tag `node:http` / `node:https` requests (`request`, `get`, and everything built on them, such
   * as axios's http adapter). `'auto'` (default) uses the `http.client.request.created` channel
   * where Node has it (22.12+, 23.2+) and wraps `request`/`get` otherwise (Node 20); `'channel'`
   * or `'wrap'` forces one (`'channel'` throws on a Node without it); `false` leaves them alone.
   */
  readonly http?: boolean | 'auto' | HttpHookMode | undefined;
  /**
   * Also enable the OpenTelemetry bridge ({@link enableOpenTelemetryBridge}), so clients
   * instrumented by OpenTelemetry carry the lane in W3C `baggage`. `'auto'` (default) enables it
   * when `@opentelemetry/api` can be loaded and skips it otherwise; `true` requires it
   * (`GL_ERR_MISSING_PEER` without it); `false` leaves it off. Disabled with the handle.
   */
  readonly openTelemetry?: boolean | 'auto' | undefined;
}

const PROPAGATION_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  carry: 1,
  undici: 1,
  http: 1,
  openTelemetry: 1,
} satisfies Record<keyof PropagationOptions, 1>);

/** Returned by {@link enablePropagation}. */
export interface PropagationHandle {
  /** How node:http/https is hooked: `'channel'`, `'wrap'`, or `null` when it is not. */
  readonly httpMode: HttpHookMode | null;
  /** Whether the undici / global fetch hook is on. */
  readonly undici: boolean;
  /** Whether this handle enabled the OpenTelemetry bridge. */
  readonly openTelemetry: boolean;
  /**
   * Releases this handle. The hooks are removed — channels unsubscribed, `http`/`https`
   * functions restored — when every handle from {@link enablePropagation} has been disabled.
   * Idempotent.
   */
  disable(): void;
}

/** A snapshot of the process-wide outbound counters. */
export interface PropagationCounters {
  /** Lane headers written onto outbound requests. */
  readonly injected: number;
  /** Outbound requests in a lane that already carried the lane header (their value was kept). */
  readonly kept: number;
  /** Headers that could not be written because the request had already rendered its headers. */
  readonly unwritable: number;
  /** Invalid lanes or carried values (oversize, bad characters) that were not forwarded. */
  readonly dropped: number;
  /**
   * undici requests made in a lane through a dispatcher without `laneInterceptor()` while
   * propagation was enabled: sent without the lane (`GL_WARN_UNDICI_UNINTERCEPTED`).
   */
  readonly unintercepted: number;
  /**
   * Outbound requests made in a lane without the lane header while propagation was NOT enabled
   * (`GL_WARN_PROPAGATION_NOT_ENABLED`); counted once a request arrived in a lane.
   */
  readonly unpropagated: number;
}

interface Settings {
  readonly outbound: OutboundConfig;
  readonly undici: boolean;
  readonly httpMode: HttpHookMode | null;
  readonly openTelemetry: boolean | 'auto';
}

let active: Settings | null = null;
let holders = 0;
let bridge: OpenTelemetryBridge | null = null;

function resolveHttpMode(value: PropagationOptions['http']): HttpHookMode | null {
  switch (value ?? 'auto') {
    case false:
      return null;
    case true:
    case 'auto':
      return hasRequestCreatedChannel() ? 'channel' : 'wrap';
    case 'channel':
      if (!hasRequestCreatedChannel()) {
        throw new InvalidOptionError(
          'http',
          `'channel' needs http.client.request.created (Node 22.12+ or 23.2+); this runtime does not publish it`,
        );
      }
      return 'channel';
    case 'wrap':
      return 'wrap';
    default:
      throw new InvalidOptionError('http', "must be a boolean, 'auto', 'channel' or 'wrap'");
  }
}

function compileSettings(options: PropagationOptions | undefined): Settings {
  const outbound = compileOutbound(options);
  const undici = options?.undici ?? true;
  if (typeof undici !== 'boolean') throw new InvalidOptionError('undici', 'must be a boolean');
  const openTelemetry = options?.openTelemetry ?? 'auto';
  if (typeof openTelemetry !== 'boolean' && openTelemetry !== 'auto') {
    throw new InvalidOptionError('openTelemetry', "must be a boolean or 'auto'");
  }
  return { outbound, undici, httpMode: resolveHttpMode(options?.http), openTelemetry };
}

/** The bridge for `openTelemetry`, or `null` when off (or 'auto' without `@opentelemetry/api`). */
function startBridge(openTelemetry: boolean | 'auto'): OpenTelemetryBridge | null {
  if (openTelemetry === false) return null;
  try {
    return enableOpenTelemetryBridge();
  } catch (error) {
    if (openTelemetry === 'auto' && error instanceof GraylaneError && error.code === 'GL_ERR_MISSING_PEER') {
      return null;
    }
    throw error;
  }
}

function sameSettings(a: Settings, b: Settings): boolean {
  return (
    a.outbound.header === b.outbound.header &&
    a.outbound.carry === b.outbound.carry &&
    a.undici === b.undici &&
    a.httpMode === b.httpMode &&
    a.openTelemetry === b.openTelemetry
  );
}

/**
 * Switches on automatic outbound propagation for the process: while enabled, every outbound
 * HTTP request made inside a lane carries `x-mse-tag: <lane>` (and the context's carried
 * headers) — undici and global `fetch` through `laneInterceptor()` in front of undici's global
 * dispatcher (call it after any `setGlobalDispatcher()`; explicit dispatchers need
 * `laneInterceptor()` themselves),
 * `node:http`/`node:https` through `http.client.request.created` (Node 22.12+/23.2+) or by
 * wrapping `request`/`get` (Node 20), and therefore axios with its http or fetch adapter.
 * A request that already has the header keeps its value; outside a lane nothing is added.
 * Nothing is patched before this is called.
 *
 * Calling it again while enabled returns another handle on the same hooks (a reference count:
 * nothing is installed twice, and the hooks go when the last handle is disabled). Options must
 * then resolve to the same settings.
 *
 * @param options.header lane header, default `x-mse-tag`.
 * @param options.carry write the context's carried headers too, default `true`.
 * @param options.undici hook undici / global fetch, default `true`.
 * @param options.http hook node:http/https: `'auto'` (default), `'channel'`, `'wrap'`, `false`.
 * @param options.openTelemetry enable the OpenTelemetry bridge: `'auto'` (default), `true`, `false`.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, or options that
 *   differ from those propagation is already enabled with.
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` with `openTelemetry: true` and no
 *   `@opentelemetry/api` installed.
 * @example
 * const propagation = enablePropagation();
 * app.use(laneMiddleware());
 * app.get('/', async (_req, res) => res.send(await (await fetch('http://svc-b/')).text()));
 * // on shutdown: propagation.disable();
 */
export function enablePropagation(options?: PropagationOptions): PropagationHandle {
  assertKnownOptions('enablePropagation()', options, PROPAGATION_OPTION_KEYS);
  const settings = compileSettings(options);
  if (active !== null) {
    if (!sameSettings(active, settings)) {
      throw new InvalidOptionError(
        'options',
        'propagation is already enabled with different settings; disable every handle first',
      );
    }
  } else {
    // The bridge may throw (missing peer): start it before patching anything.
    bridge = startBridge(settings.openTelemetry);
    // Before the hooks: the watch and the undici guard share the interceptor's frame counts.
    pausePropagationWatch(true);
    if (settings.undici) installUndiciHook(settings.outbound);
    if (settings.httpMode !== null) installHttpHook(settings.outbound, settings.httpMode);
    active = settings;
  }
  holders++;
  let released = false;
  return {
    httpMode: settings.httpMode,
    undici: settings.undici,
    openTelemetry: bridge !== null,
    disable() {
      if (released) return;
      released = true;
      if (--holders > 0) return;
      const current = active;
      active = null;
      if (current === null) return;
      if (current.undici) uninstallUndiciHook();
      if (current.httpMode !== null) uninstallHttpHook();
      pausePropagationWatch(false);
      const started = bridge;
      bridge = null;
      if (started !== null) started.disable();
    },
  };
}

/**
 * The outbound counters since start (or the last {@link resetPropagationCounters}), across the
 * automatic hooks, {@link laneInterceptor} and {@link laneAxios}.
 *
 * @example
 * propagationCounters().injected; // lane headers written so far
 */
export function propagationCounters(): PropagationCounters {
  const { injected, kept, unwritable, dropped, unintercepted, unpropagated } = outboundCounters;
  return { injected, kept, unwritable, dropped, unintercepted, unpropagated };
}

/**
 * Zeroes the outbound counters (tests, or an operator's reset button).
 *
 * @example
 * resetPropagationCounters();
 * propagationCounters().injected; // 0
 */
export function resetPropagationCounters(): void {
  outboundCounters.injected = 0;
  outboundCounters.kept = 0;
  outboundCounters.unwritable = 0;
  outboundCounters.dropped = 0;
  outboundCounters.unintercepted = 0;
  outboundCounters.unpropagated = 0;
}

/**
 * Declares that this service sends its outbound calls without the lane on purpose. Without it,
 * once a request has arrived in a lane (counted at ingress) while no propagation is enabled, an
 * outbound call made in that lane without the lane header raises a one-time warning
 * `GL_WARN_PROPAGATION_NOT_ENABLED` and counts as `unpropagated`. This removes that watch (two
 * diagnostics-channel subscriptions) for the rest of the process. Idempotent.
 * (`node --disable-warning=GL_WARN_PROPAGATION_NOT_ENABLED` hides the warning but keeps counting.)
 *
 * @example
 * // an edge that must not forward lanes to third-party APIs
 * disablePropagationWarning();
 */
export function disablePropagationWarning(): void {
  silencePropagationWatch();
}
