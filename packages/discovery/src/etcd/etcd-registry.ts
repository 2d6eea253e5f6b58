import { InvalidOptionError, MissingPeerError } from '@graylane/core';
import type { Etcd3, IOptions } from 'etcd3';
import { ClosedError, RegistryUnavailableError } from '../errors';
import type { Instance, ServiceInstanceInit } from '../instance';
import type { Registration, Registry, RegistryListener } from '../registry';
import { checkServiceName, encodeRegistration, serviceKeyPrefix } from './codec';
import { describeError, REGISTRY_NAME, withTimeout } from './internal';
import { LeaseRegistration } from './lease-registration';
import {
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  type EtcdRegistryOptions,
  type ResolvedEtcdOptions,
  resolveEtcdOptions,
} from './options';
import { ServiceWatch } from './service-watch';

/**
 * Delay before the etcd3 client re-opens its shared watch stream. The registry drops its watchers
 * on a disconnect and relists with its own backoff, so this only bounds how long a closed
 * client's reconnect timer can linger.
 */
export const WATCH_STREAM_RETRY_MS = 100;

type WatchBackoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

const WATCH_STREAM_BACKOFF: WatchBackoff = {
  duration: WATCH_STREAM_RETRY_MS,
  next() {
    return WATCH_STREAM_BACKOFF;
  },
};

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

const NEVER_ABORTED = new AbortController().signal;

/**
 * Host policy for a single endpoint: no circuit breaker. etcd3's default breaker stops calling a
 * host for 5 s after 3 failures; with no other host to fail over to, that only delays the resync
 * after an etcd restart (measured: ~2.5 s instead of ~20 ms). The registry retries with its own
 * backoff instead.
 */
const PASS_THROUGH_POLICY = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    fn({ signal: NEVER_ABORTED }),
} as unknown as HostPolicy; // etcd3 only ever calls execute(); cockatiel's event members go unread

function loadEtcd3(): typeof import('etcd3') {
  try {
    // Loaded here, not at the top, so `@graylane/discovery/etcd` can explain a missing peer.
    return require('etcd3') as typeof import('etcd3');
  } catch (err) {
    throw new MissingPeerError('etcdRegistry', 'etcd3', { cause: err });
  }
}

/**
 * A {@link Registry} on etcd v3. Build it with {@link etcdRegistry}, which documents the
 * behaviour; the class is exported for `instanceof` and types.
 *
 * @example
 * ```ts
 * const registry: EtcdRegistry = etcdRegistry({ endpoints: 'http://127.0.0.1:2379' });
 * registry instanceof EtcdRegistry; // true
 * ```
 */
export class EtcdRegistry implements Registry {
  readonly name = REGISTRY_NAME;
  readonly #options: ResolvedEtcdOptions;
  readonly #client: Etcd3;
  readonly #watches = new Map<string, ServiceWatch>();
  readonly #registrations = new Set<LeaseRegistration>();
  /** register() calls in flight; close() waits for them (they undo themselves once closing). */
  readonly #pending = new Set<Promise<Registration>>();
  #closing: Promise<void> | undefined;

  constructor(options: EtcdRegistryOptions) {
    this.#options = resolveEtcdOptions(options);
    const { Etcd3: Client } = loadEtcd3();
    const { hosts, clientOptions } = this.#options;
    this.#client = new Client({
      ...clientOptions,
      hosts,
      grpcOptions: {
        'grpc.keepalive_time_ms': DEFAULT_KEEPALIVE_TIME_MS,
        'grpc.keepalive_timeout_ms': DEFAULT_KEEPALIVE_TIMEOUT_MS,
        ...clientOptions.grpcOptions,
      },
      faultHandling: {
        watchBackoff: WATCH_STREAM_BACKOFF,
        ...(hosts.length === 1 ? { host: () => PASS_THROUGH_POLICY } : {}),
        ...clientOptions.faultHandling,
      },
    });
  }

  /** Delivers the instances under `<prefix>/<service>/`; one etcd watch per service, shared. */
  subscribe(service: string, listener: RegistryListener): () => void {
    if (this.#closing !== undefined) throw new ClosedError('etcd registry');
    checkServiceName(service);
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'expected a function');
    let watch = this.#watches.get(service);
    const fresh = watch === undefined;
    if (watch === undefined) {
      const { requestTimeoutMs, retryInitialMs, retryMaxMs } = this.#options;
      watch = new ServiceWatch({
        client: this.#client,
        service,
        keyPrefix: serviceKeyPrefix(this.#options.prefix, service),
        requestTimeoutMs,
        retryInitialMs,
        retryMaxMs,
      });
      this.#watches.set(service, watch);
    }
    const subscription = watch.add(listener);
    if (fresh) watch.start();
    const watches = this.#watches;
    const owner = watch;
    let subscribed = true;
    return function unsubscribe() {
      if (!subscribed) return;
      subscribed = false;
      if (owner.remove(subscription) && watches.get(service) === owner) {
        watches.delete(service);
        void owner.close();
      }
    };
  }

  /** Writes `<prefix>/<service>/<id>` on a lease kept alive until the registration is closed. */
  async register(init: ServiceInstanceInit): Promise<Registration> {
    if (this.#closing !== undefined) throw new ClosedError('etcd registry');
    const { key, instance, value } = encodeRegistration(this.#options.prefix, init);
    const pending = this.#register(init.service, key, instance, value);
    this.#pending.add(pending);
    try {
      return await pending;
    } finally {
      this.#pending.delete(pending);
    }
  }

  async #register(service: string, key: string, instance: Instance, value: string): Promise<Registration> {
    const { ttlSeconds, requestTimeoutMs, retryInitialMs, retryMaxMs } = this.#options;
    let registration: LeaseRegistration;
    try {
      registration = await LeaseRegistration.create({
        client: this.#client,
        service,
        key,
        value,
        instance,
        ttlSeconds,
        requestTimeoutMs,
        retryInitialMs,
        retryMaxMs,
        onClose: (closed) => this.#registrations.delete(closed),
      });
    } catch (err) {
      throw unreachable(err, key, this.#options.hosts, requestTimeoutMs);
    }
    if (this.#closing !== undefined) {
      // close() ran while the key was being written: take it back before the client goes.
      await registration.close();
      throw new ClosedError('etcd registry');
    }
    this.#registrations.add(registration);
    return registration;
  }

  /** Deregisters every registration made here, stops every watch and closes the etcd client. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Watches stop delivering at once; register() calls in flight undo themselves, then the rest.
    const stopping = [...this.#watches.values()].map((watch) => watch.close());
    this.#watches.clear();
    await Promise.allSettled(this.#pending);
    await Promise.allSettled([...stopping, ...[...this.#registrations].map((r) => r.close())]);
    // Let cancel responses and stream ends drain before the channels go away.
    await withTimeout(new Promise((resolve) => setImmediate(resolve)), 100);
    this.#client.close();
  }
}

/**
 * Creates an etcd v3 registry (needs the optional peer dependency `etcd3`).
 *
 * - One key per instance, `<prefix>/<service>/<id>`, whose value is the instance as JSON
 *   (`{ id, host, port, labels, weight, healthy }`; `id` defaults to the key's last segment).
 * - `register()` writes the key on a lease of `ttlSeconds`, kept alive by the client; if the
 *   lease is lost (etcd restarted, the lease expired) the key is written again under a new lease
 *   once etcd answers. `close()` on the registration revokes the lease: the key goes at once.
 * - `subscribe()` lists the service's keys, delivers the set, then watches from the listed
 *   revision + 1. A compacted watch relists. While etcd is unreachable the last set stays in
 *   use: subscribers get one `{ ok: false, error }` (`GL_ERR_REGISTRY_UNAVAILABLE`), and the
 *   fresh set when a relist succeeds (retried with backoff).
 * - Malformed values are skipped and published on `graylane:registry:error`.
 *
 * Throws `GL_ERR_INVALID_OPTION` for bad options and `GL_ERR_MISSING_PEER` without `etcd3`.
 *
 * @example
 * ```ts
 * import { etcdRegistry } from '@graylane/discovery/etcd';
 *
 * const registry = etcdRegistry({ endpoints: 'http://127.0.0.1:2379' });
 * const registration = await registry.register({
 *   service: 'orders',
 *   host: '10.0.0.7',
 *   port: 8080,
 *   labels: { 'alicloud.service.tag': 'gray' },
 * });
 * registry.subscribe('orders', (update) => {
 *   if (update.ok) console.log(update.instances.map((i) => `${i.host}:${i.port}`));
 * });
 * process.once('SIGTERM', () => void registration.close().then(() => registry.close()));
 * ```
 */
export function etcdRegistry(options: EtcdRegistryOptions): EtcdRegistry {
  return new EtcdRegistry(options);
}

/**
 * The register() failure a user can act on: which endpoints were tried, for how long, and what to
 * check; etcd's own words (`14 UNAVAILABLE: No connection established...`) stay in the message
 * and the cause.
 */
function unreachable(err: unknown, key: string, hosts: readonly string[], timeoutMs: number): unknown {
  if (!(err instanceof RegistryUnavailableError)) return err;
  const cause = err.cause === undefined ? err.message : describeError(err.cause);
  return new RegistryUnavailableError(
    REGISTRY_NAME,
    `cannot register ${key} on etcd at ${hosts.join(', ')} (deadline ${timeoutMs} ms per call): ${cause}. ` +
      'Check that etcd is running and reachable from this host at those endpoints ' +
      `(etcdctl --endpoints=${hosts.join(',')} endpoint health), that the endpoints option (or the ` +
      'environment variable you feed it from) names the client URLs (port 2379 by default), and that ' +
      'clientOptions.credentials / clientOptions.auth match the server when it uses TLS or auth.',
    { cause: err.cause ?? err },
  );
}
