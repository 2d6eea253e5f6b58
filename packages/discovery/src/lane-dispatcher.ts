import { assertKnownOptions, InvalidOptionError, laneInterceptor } from '@graylane/core';
import type { Dispatcher, Pool } from 'undici';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
} from './call-timeouts';
import type { Choice, Discovery } from './create-discovery';
import { discoveryChannels } from './diagnostics';
import type { Instance } from './instance';
import { toError } from './internal/caught';
import {
  failureCode,
  failureOutcome,
  IDEMPOTENT_METHODS,
  isTransportFailure,
  neverReached,
} from './internal/failure-kind';
import { hostPort } from './internal/host-port';
import { loadPeer } from './internal/optional-peer';
import {
  type EndReporter,
  failHandler,
  LegacyReportingHandler,
  ReportingHandler,
} from './internal/reporting-handler';
import { DEFAULT_LOAD_TIMEOUT_MS, type ServiceHosts, serviceHostTest } from './service-hosts';

type Undici = typeof import('undici');

/** Options of {@link laneDispatcher}. */
export interface LaneDispatcherOptions {
  readonly discovery: Discovery;
  /** Where requests to hosts that are not services go. Default: a new undici `Agent` (closed with this dispatcher). */
  readonly dispatcher?: Dispatcher | undefined;
  /**
   * Which hosts are services (routed through discovery, never DNS): a list of host names or a
   * function `(host) => boolean`. Default: single-label names (`svc-b`; not `localhost`, not IP
   * literals, nothing with a dot: {@link isServiceHost}), services `discovery` tracks, and
   * services the registry holds instances of right now.
   */
  readonly services?: ServiceHosts | undefined;
  /**
   * How long a request for a service whose first instance set has not arrived waits for it;
   * then it fails with `RegistryUnavailableError` (`GL_ERR_REGISTRY_UNAVAILABLE`). Default
   * {@link DEFAULT_LOAD_TIMEOUT_MS} (5,000 ms).
   */
  readonly loadTimeoutMs?: number | undefined;
  /**
   * `Host` header sent to the instance when the request has none: `'service'` keeps the address
   * the caller used (`svc-b`, like a Kubernetes Service name would), `'instance'` sends the
   * instance's `host:port`. Default `'service'`.
   */
  readonly hostHeader?: 'service' | 'instance' | undefined;
  /** Options of the per-instance undici `Pool`s (they win over the timeouts below). */
  readonly poolOptions?: Pool.Options | undefined;
  /** Connect timeout per connection to an instance. Default {@link DEFAULT_CONNECT_TIMEOUT_MS} (3 s). */
  readonly connectTimeoutMs?: number | undefined;
  /** Time to the response headers. Default {@link DEFAULT_HEADERS_TIMEOUT_MS} (30 s). */
  readonly headersTimeoutMs?: number | undefined;
  /** Idle time between body chunks. Default {@link DEFAULT_BODY_TIMEOUT_MS} (300 s, undici's). */
  readonly bodyTimeoutMs?: number | undefined;
  /**
   * Also retry, once, on another instance of the same routing decision, a request that failed on
   * its connection after it may have been written (reset, socket error), when its method is
   * idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) and its body replayable (none, a string or
   * bytes). A request that failed before any byte reached the instance (refused, connect timeout)
   * is always retried once. Default `false`.
   */
  readonly retryIdempotent?: boolean | undefined;
}

const LANE_DISPATCHER_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  dispatcher: 1,
  services: 1,
  loadTimeoutMs: 1,
  hostHeader: 1,
  poolOptions: 1,
  connectTimeoutMs: 1,
  headersTimeoutMs: 1,
  bodyTimeoutMs: 1,
  retryIdempotent: 1,
} satisfies Record<keyof LaneDispatcherOptions, 1>);

/** A request origin that names a service. */
interface Target {
  readonly service: string;
  readonly protocol: string;
  /** `host[:port]` as the caller wrote it. */
  readonly authority: string;
}

const POOL_EVENTS = ['drain', 'connect', 'disconnect', 'connectionError'] as const;

/** Most origins remembered (parsed) before the cache starts over. */
const MAX_CACHED_ORIGINS = 1024;

const classes = new WeakMap<Undici, new (options: LaneDispatcherOptions, undici: Undici) => Dispatcher>();

/**
 * An undici `Dispatcher` that sends `http://<service>/path` to the instance `discovery` picks
 * for the current lane, through a connection pool per instance (closed when the instance leaves
 * the registry). Requests to other hosts pass through to `dispatcher`. Works with undici
 * `request`/`fetch`/`stream` (`{ dispatcher }`) and `setGlobalDispatcher`. It reports each
 * request's start and end to `discovery` (for the `p2c` balancer).
 *
 * The service is the URL's host name (URL ports are ignored: the instance's port is used). A
 * request with no instance to serve it fails with `NoInstanceError` (`GL_ERR_NO_INSTANCE`) as
 * its cause. Needs the `undici` package (optional peer dependency, 6.21+ or 7).
 *
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` without `undici`.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @example
 * import { fetch, request } from 'undici';
 * const dispatcher = laneDispatcher({ discovery });
 * await discovery.ready('svc-b');
 * const res = await request('http://svc-b/orders', { dispatcher }); // gray instance in lane gray
 */
export function laneDispatcher(options: LaneDispatcherOptions): Dispatcher {
  assertKnownOptions('laneDispatcher()', options, LANE_DISPATCHER_OPTION_KEYS);
  const undici = loadPeer<Undici>('undici', 'laneDispatcher()');
  let LaneDispatcher = classes.get(undici);
  if (LaneDispatcher === undefined) {
    LaneDispatcher = defineLaneDispatcher(undici);
    classes.set(undici, LaneDispatcher);
  }
  return new LaneDispatcher(options, undici);
}

function defineLaneDispatcher(undici: Undici) {
  return class LaneDispatcher extends undici.Dispatcher {
    readonly #undici: Undici;
    readonly #discovery: Discovery;
    readonly #passthrough: Dispatcher;
    readonly #ownsPassthrough: boolean;
    readonly #isService: (host: string) => boolean;
    readonly #loadTimeoutMs: number;
    readonly #instanceHost: boolean;
    readonly #poolOptions: Pool.Options;
    readonly #retryIdempotent: boolean;
    readonly #pools = new Map<string, Pool>();
    readonly #watched = new Map<string, { unwatch: () => void; endpoints: ReadonlySet<string> }>();
    readonly #origins = new Map<string, Target | null>();
    #closed = false;

    constructor(options: LaneDispatcherOptions, undiciModule: Undici) {
      super();
      if (typeof options !== 'object' || options === null) {
        throw new InvalidOptionError('options', 'expected { discovery, ... }');
      }
      const { discovery } = options;
      if (typeof discovery?.pick !== 'function' || typeof discovery.watch !== 'function') {
        throw new InvalidOptionError('discovery', 'expected a Discovery (createDiscovery())');
      }
      const hostHeader = options.hostHeader ?? 'service';
      if (hostHeader !== 'service' && hostHeader !== 'instance') {
        throw new InvalidOptionError('hostHeader', "expected 'service' or 'instance'");
      }
      const loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
      if (typeof loadTimeoutMs !== 'number' || !(loadTimeoutMs >= 0) || !Number.isFinite(loadTimeoutMs)) {
        throw new InvalidOptionError('loadTimeoutMs', 'expected a number of milliseconds >= 0');
      }
      this.#loadTimeoutMs = loadTimeoutMs;
      this.#isService = serviceHostTest(discovery, options.services);
      this.#undici = undiciModule;
      this.#discovery = discovery;
      this.#ownsPassthrough = options.dispatcher === undefined;
      this.#passthrough = options.dispatcher ?? new undiciModule.Agent();
      this.#instanceHost = hostHeader === 'instance';
      const connectTimeout = timeoutOption(
        options.connectTimeoutMs,
        'connectTimeoutMs',
        DEFAULT_CONNECT_TIMEOUT_MS,
      );
      const headersTimeout = timeoutOption(
        options.headersTimeoutMs,
        'headersTimeoutMs',
        DEFAULT_HEADERS_TIMEOUT_MS,
      );
      const bodyTimeout = timeoutOption(options.bodyTimeoutMs, 'bodyTimeoutMs', DEFAULT_BODY_TIMEOUT_MS);
      const pool = options.poolOptions ?? {};
      this.#poolOptions = {
        headersTimeout,
        bodyTimeout,
        ...pool,
        connect: { timeout: connectTimeout, ...(pool.connect as object | undefined) },
      } as Pool.Options;
      if (options.retryIdempotent !== undefined && typeof options.retryIdempotent !== 'boolean') {
        throw new InvalidOptionError('retryIdempotent', 'expected a boolean');
      }
      this.#retryIdempotent = options.retryIdempotent === true;
    }

    // The lane is written at dispatch, in the caller's frame: the same lane pick() routes by, and
    // never the lane of a request whose socket callback later creates a queued one.
    readonly #tagged = laneInterceptor()(
      (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean =>
        this.#route(opts, handler),
    );

    override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      return this.#tagged(opts, handler);
    }

    #route(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const target = this.#target(opts.origin);
      if (target === null) return this.#passthrough.dispatch(opts, handler);
      if (!this.#closed && !this.#discovery.isLoaded(target.service)) {
        // Not loaded yet: wait (bounded) for the first set; never fall through to DNS.
        this.#discovery.ready(target.service, { timeoutMs: this.#loadTimeoutMs }).then(
          () => {
            try {
              this.#routeTo(target, opts, handler);
            } catch (error) {
              failHandler(handler, toError(error));
            }
          },
          (error: unknown) => failHandler(handler, toError(error)),
        );
        return true;
      }
      return this.#routeTo(target, opts, handler);
    }

    #routeTo(target: Target, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      let choice: Choice;
      try {
        if (this.#closed) throw new this.#undici.errors.ClientClosedError();
        choice = this.#discovery.choose(target.service);
      } catch (error) {
        failHandler(handler, toError(error));
        return false;
      }
      this.#discovery.countPick(choice);
      const call = new RoutedCall(this, target, opts, handler, choice, this.#retryIdempotent);
      return this.send(call);
    }

    /** Sends `call` (again) to its current choice. @internal */
    send(call: RoutedCall): boolean {
      const { target, choice } = call;
      const instance = choice.instance;
      let pool: Pool;
      try {
        if (this.#closed) throw new this.#undici.errors.ClientClosedError();
        pool = this.#pool(target, instance);
      } catch (error) {
        call.end();
        failHandler(call.handler, toError(error));
        return false;
      }
      const host = this.#instanceHost ? hostPort(instance) : target.authority;
      const routed: Dispatcher.DispatchOptions = {
        ...call.opts,
        origin: originOf(target.protocol, instance),
        headers: withHost(call.opts.headers, host),
      };
      this.#discovery.report(target.service, instance, 'start');
      try {
        return pool.dispatch(routed, call.wrapped);
      } catch (error) {
        call.end();
        throw error;
      }
    }

    /** Another choice for a call that failed where a retry is safe, or undefined. @internal */
    chooseAgain(choice: Choice): Choice | undefined {
      if (this.#closed) return undefined;
      try {
        return this.#discovery.chooseAgain(choice);
      } catch {
        return undefined;
      }
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | undefined {
      const done = this.#shutdown((d) => d.close());
      if (callback === undefined) return done;
      done.then(callback, callback);
      return undefined;
    }

    override destroy(): Promise<void>;
    override destroy(error: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(error: Error | null, callback: () => void): void;
    override destroy(
      errorOrCallback?: Error | null | (() => void),
      callback?: () => void,
    ): Promise<void> | undefined {
      const error = typeof errorOrCallback === 'function' ? null : (errorOrCallback ?? null);
      const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback;
      const done = this.#shutdown((d) => d.destroy(error));
      if (cb === undefined) return done;
      done.then(cb, cb);
      return undefined;
    }

    async #shutdown(how: (dispatcher: Dispatcher) => Promise<void>): Promise<void> {
      this.#closed = true;
      for (const watched of this.#watched.values()) watched.unwatch();
      this.#watched.clear();
      const all: Dispatcher[] = [...this.#pools.values()];
      this.#pools.clear();
      if (this.#ownsPassthrough) all.push(this.#passthrough);
      await Promise.all(all.map((d) => how(d).catch(() => undefined)));
    }

    #target(origin: string | URL | undefined): Target | null {
      if (origin === undefined) return null;
      const key = typeof origin === 'string' ? origin : origin.origin;
      let target = this.#origins.get(key);
      if (target === undefined) {
        target = parseTarget(origin);
        if (this.#origins.size >= MAX_CACHED_ORIGINS) this.#origins.clear();
        this.#origins.set(key, target);
      }
      if (target === null) return null;
      return this.#isService(target.service) ? target : null;
    }

    /** @internal */
    discoveryOf(): Discovery {
      return this.#discovery;
    }

    #pool(target: Target, instance: Instance): Pool {
      const origin = originOf(target.protocol, instance);
      let pool = this.#pools.get(origin);
      if (pool === undefined) {
        const options: Pool.Options =
          target.protocol === 'https:'
            ? {
                ...this.#poolOptions,
                connect: { servername: target.service, ...(this.#poolOptions.connect as object | undefined) },
              }
            : { ...this.#poolOptions };
        pool = new this.#undici.Pool(origin, options);
        // Re-emitted like undici's Agent does, for callers that wait for 'drain' after dispatch() returned false.
        const emitter = pool as unknown as NodeJS.EventEmitter;
        for (const event of POOL_EVENTS) {
          emitter.on(event, (...args: unknown[]) =>
            (this as unknown as NodeJS.EventEmitter).emit(event, ...args),
          );
        }
        this.#pools.set(origin, pool);
      }
      if (!this.#watched.has(target.service)) this.#watch(target.service);
      return pool;
    }

    // Pools of instances that left every watched service are closed (in-flight requests finish).
    #watch(service: string): void {
      const entry = { unwatch: () => {}, endpoints: new Set<string>() as ReadonlySet<string> };
      this.#watched.set(service, entry);
      entry.unwatch = this.#discovery.watch(service, (instances) => {
        entry.endpoints = new Set(instances.map(hostPort));
        const live = new Set<string>();
        for (const watched of this.#watched.values())
          for (const endpoint of watched.endpoints) live.add(endpoint);
        for (const [origin, pool] of this.#pools) {
          if (!live.has(origin.slice(origin.indexOf('//') + 2))) {
            this.#pools.delete(origin);
            pool.close().catch(() => undefined);
          }
        }
      });
    }
  };
}

/** What a routed call needs from its dispatcher. */
interface CallSender {
  discoveryOf(): Discovery;
  send(call: RoutedCall): boolean;
  chooseAgain(choice: Choice): Choice | undefined;
}

/**
 * One request through the lane dispatcher, across at most two attempts: reports each attempt's
 * start/end (p2c) and outcome (outlier ejection), and retries once on another instance of the same
 * routing decision when that is safe (no byte reached the instance; or opted in and idempotent).
 */
class RoutedCall implements EndReporter {
  readonly target: Target;
  readonly opts: Dispatcher.DispatchOptions;
  readonly handler: Dispatcher.DispatchHandler;
  readonly wrapped: Dispatcher.DispatchHandler;
  choice: Choice;
  readonly #sender: CallSender;
  readonly #retryIdempotent: boolean;
  #retried = false;
  #written = false;
  #responded = false;
  #ended = false;

  constructor(
    sender: CallSender,
    target: Target,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    choice: Choice,
    retryIdempotent: boolean,
  ) {
    this.#sender = sender;
    this.target = target;
    this.opts = opts;
    this.handler = handler;
    this.choice = choice;
    this.#retryIdempotent = retryIdempotent;
    this.wrapped =
      typeof handler.onRequestStart === 'function'
        ? new ReportingHandler(handler, this)
        : new LegacyReportingHandler(handler, this);
  }

  #discovery(): Discovery {
    return this.#sender.discoveryOf();
  }

  connected(): void {
    this.#written = true;
  }

  responded(statusCode: number): void {
    if (this.#responded) return;
    this.#responded = true;
    this.#discovery().reportOutcome(
      this.target.service,
      this.choice.instance,
      statusCode >= 500 ? 'server-error' : 'success',
    );
  }

  failed(error: Error): boolean {
    const code = failureCode(error);
    const discovery = this.#discovery();
    if (this.#responded) {
      if (code === 'UND_ERR_BODY_TIMEOUT')
        discovery.reportOutcome(this.target.service, this.choice.instance, 'timeout');
      return false;
    }
    const outcome = failureOutcome(code);
    if (outcome !== null) discovery.reportOutcome(this.target.service, this.choice.instance, outcome);
    if (this.#retried) return false;
    const safe = neverReached(code, this.#written);
    const idempotent =
      !safe &&
      this.#retryIdempotent &&
      isTransportFailure(code) &&
      IDEMPOTENT_METHODS.has(String(this.opts.method).toUpperCase()) &&
      replayable(this.opts.body);
    if (!safe && !idempotent) return false;
    const next = this.#sender.chooseAgain(this.choice);
    if (next === undefined) return false;
    const from = this.choice.instance.id;
    this.end();
    this.#retried = true;
    this.#ended = false;
    this.#written = false;
    this.choice = next;
    discovery.countPick(next);
    if (discoveryChannels.retry.hasSubscribers) {
      discoveryChannels.retry.publish({
        service: this.target.service,
        lane: next.lane,
        from,
        to: next.instance.id,
        code,
        client: 'http',
      });
    }
    this.#sender.send(this);
    return true;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#discovery().report(this.target.service, this.choice.instance, 'end');
  }
}

function replayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

function timeoutOption(value: number | undefined, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(path, 'expected a positive number of milliseconds');
  }
  return value;
}

function parseTarget(origin: string | URL): Target | null {
  let url: URL;
  try {
    url = typeof origin === 'string' ? new URL(origin) : origin;
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return { service: url.hostname, protocol: url.protocol, authority: url.host };
}

function originOf(protocol: string, instance: Instance): string {
  return `${protocol}//${hostPort(instance)}`;
}

type Headers = Dispatcher.DispatchOptions['headers'];

/** The request headers with `host` added unless the caller set one. Never mutates `headers`. */
function withHost(headers: Headers, host: string): Headers {
  if (headers === undefined || headers === null) return ['host', host];
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      const pairs = headers as unknown as Array<[string, unknown]>;
      if (pairs.some(([name]) => name.toLowerCase() === 'host')) return headers;
      return [...pairs, ['host', host]] as unknown as Headers;
    }
    for (let i = 0; i < headers.length; i += 2)
      if (String(headers[i]).toLowerCase() === 'host') return headers;
    return [...headers, 'host', host];
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const flat: string[] = [];
    for (const [name, value] of headers as Iterable<[string, string | string[] | undefined]>) {
      if (name.toLowerCase() === 'host') return headers;
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) flat.push(name, v);
    }
    flat.push('host', host);
    return flat;
  }
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'host') return headers;
  return { ...(headers as Record<string, string | string[]>), host };
}
