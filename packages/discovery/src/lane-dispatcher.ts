import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import type { Dispatcher, Pool } from 'undici';
import type { Discovery } from './create-discovery';
import type { Instance } from './instance';
import { toError } from './internal/caught';
import { hostPort } from './internal/host-port';
import { loadPeer } from './internal/optional-peer';
import {
  type EndReporter,
  failHandler,
  LegacyReportingHandler,
  ReportingHandler,
} from './internal/reporting-handler';

type Undici = typeof import('undici');

/** Options of {@link laneDispatcher}. */
export interface LaneDispatcherOptions {
  readonly discovery: Discovery;
  /** Where requests to hosts that are not services go. Default: a new undici `Agent` (closed with this dispatcher). */
  readonly dispatcher?: Dispatcher | undefined;
  /**
   * Host names that are services. Default: every service `discovery` tracks (one you called
   * `ready()`, `pick()`, `instances()` or `watch()` for).
   */
  readonly services?: readonly string[] | undefined;
  /**
   * `Host` header sent to the instance when the request has none: `'service'` keeps the address
   * the caller used (`svc-b`, like a Kubernetes Service name would), `'instance'` sends the
   * instance's `host:port`. Default `'service'`.
   */
  readonly hostHeader?: 'service' | 'instance' | undefined;
  /** Options of the per-instance undici `Pool`s. */
  readonly poolOptions?: Pool.Options | undefined;
}

const LANE_DISPATCHER_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  dispatcher: 1,
  services: 1,
  hostHeader: 1,
  poolOptions: 1,
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
    readonly #services: ReadonlySet<string> | null;
    readonly #instanceHost: boolean;
    readonly #poolOptions: Pool.Options | undefined;
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
      if (options.services !== undefined && !Array.isArray(options.services)) {
        throw new InvalidOptionError('services', 'expected an array of service names');
      }
      this.#undici = undiciModule;
      this.#discovery = discovery;
      this.#ownsPassthrough = options.dispatcher === undefined;
      this.#passthrough = options.dispatcher ?? new undiciModule.Agent();
      this.#services =
        options.services === undefined ? null : new Set(options.services.map((s) => s.toLowerCase()));
      this.#instanceHost = hostHeader === 'instance';
      this.#poolOptions = options.poolOptions;
    }

    override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const target = this.#target(opts.origin);
      if (target === null) return this.#passthrough.dispatch(opts, handler);
      let instance: Instance;
      let pool: Pool;
      try {
        if (this.#closed) throw new this.#undici.errors.ClientClosedError();
        instance = this.#discovery.pick(target.service);
        pool = this.#pool(target, instance);
      } catch (error) {
        failHandler(handler, toError(error));
        return false;
      }
      const reporter = new InFlight(this.#discovery, target.service, instance);
      const wrapped =
        typeof handler.onRequestStart === 'function'
          ? new ReportingHandler(handler, reporter)
          : new LegacyReportingHandler(handler, reporter);
      const host = this.#instanceHost ? hostPort(instance) : target.authority;
      const routed: Dispatcher.DispatchOptions = {
        ...opts,
        origin: originOf(target.protocol, instance),
        headers: withHost(opts.headers, host),
      };
      this.#discovery.report(target.service, instance, 'start');
      try {
        return pool.dispatch(routed, wrapped);
      } catch (error) {
        reporter.end();
        throw error;
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
      const known =
        this.#services === null ? this.#discovery.tracks(target.service) : this.#services.has(target.service);
      return known ? target : null;
    }

    #pool(target: Target, instance: Instance): Pool {
      const origin = originOf(target.protocol, instance);
      let pool = this.#pools.get(origin);
      if (pool === undefined) {
        const options: Pool.Options =
          target.protocol === 'https:'
            ? { ...this.#poolOptions, connect: { servername: target.service, ...this.#poolOptions?.connect } }
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

/** Ends one in-flight request exactly once. */
class InFlight implements EndReporter {
  readonly #discovery: Discovery;
  readonly #service: string;
  readonly #instance: Instance;
  #ended = false;

  constructor(discovery: Discovery, service: string, instance: Instance) {
    this.#discovery = discovery;
    this.#service = service;
    this.#instance = instance;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#discovery.report(this.#service, this.#instance, 'end');
  }
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
