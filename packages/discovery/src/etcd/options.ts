import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import type { IOptions } from 'etcd3';
import { retryDelayOptions } from '../internal/retry-delays';

/** Key prefix under which instances live: `<prefix>/<service>/<id>`. */
export const DEFAULT_ETCD_PREFIX = '/graylane/services';
/** Lease TTL of a self-registration, in seconds. The key disappears this long after its process dies. */
export const DEFAULT_LEASE_TTL_SECONDS = 10;
/** Deadline of each unary etcd call (list, put, grant, revoke), in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
/** First retry delay after etcd became unreachable or a re-registration failed, in milliseconds. */
export const DEFAULT_RETRY_INITIAL_MS = 250;
/** Retry delays grow (x2, with jitter) up to this, in milliseconds. */
export const DEFAULT_RETRY_MAX_MS = 10_000;

/**
 * gRPC keepalive ping interval on the etcd connection, in milliseconds. A watch on a connection
 * that silently died (a hung etcd, a dropped route) is noticed after this plus
 * {@link DEFAULT_KEEPALIVE_TIMEOUT_MS}, not after the OS's TCP timeout. etcd refuses pings more
 * often than its `--grpc-keepalive-min-time` (default 5 s).
 */
export const DEFAULT_KEEPALIVE_TIME_MS = 10_000;
/** How long a keepalive ping may go unanswered before the connection counts as dead, in milliseconds. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;

/**
 * Options of {@link etcdRegistry}.
 *
 * @example
 * ```ts
 * const registry = etcdRegistry({ endpoints: ['http://10.0.0.5:2379'], ttlSeconds: 5 });
 * ```
 */
export interface EtcdRegistryOptions {
  /** etcd client URLs (`http://host:2379`); one string or a list. Required. */
  readonly endpoints: string | readonly string[];
  /** Key prefix. Default {@link DEFAULT_ETCD_PREFIX} (`/graylane/services`); a trailing `/` is dropped. */
  readonly prefix?: string | undefined;
  /** Lease TTL of `register()`, whole seconds >= 1. Default {@link DEFAULT_LEASE_TTL_SECONDS} (10). */
  readonly ttlSeconds?: number | undefined;
  /** Deadline of each unary etcd call, ms. Default {@link DEFAULT_REQUEST_TIMEOUT_MS} (5000). */
  readonly requestTimeoutMs?: number | undefined;
  /** First resync / re-registration retry delay, ms. Default {@link DEFAULT_RETRY_INITIAL_MS} (250). */
  readonly retryInitialMs?: number | undefined;
  /** Largest retry delay, ms. Default {@link DEFAULT_RETRY_MAX_MS} (10000). */
  readonly retryMaxMs?: number | undefined;
  /**
   * Passed to the `etcd3` client (TLS `credentials`, `auth`, `grpcOptions`, `faultHandling`,
   * `dialTimeout`...). `hosts` comes from `endpoints`. Defaults added unless given here:
   * `grpcOptions['grpc.keepalive_time_ms']` {@link DEFAULT_KEEPALIVE_TIME_MS} (10000) and
   * `['grpc.keepalive_timeout_ms']` {@link DEFAULT_KEEPALIVE_TIMEOUT_MS} (5000); with a single
   * endpoint, `faultHandling.host` without a circuit breaker.
   */
  readonly clientOptions?: Omit<IOptions, 'hosts'> | undefined;
}

const ETCD_REGISTRY_OPTION_KEYS: readonly string[] = Object.keys({
  endpoints: 1,
  prefix: 1,
  ttlSeconds: 1,
  requestTimeoutMs: 1,
  retryInitialMs: 1,
  retryMaxMs: 1,
  clientOptions: 1,
} satisfies Record<keyof EtcdRegistryOptions, 1>);

/** Options after validation, with defaults applied. */
export interface ResolvedEtcdOptions {
  readonly hosts: string[];
  readonly prefix: string;
  readonly ttlSeconds: number;
  readonly requestTimeoutMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly clientOptions: Omit<IOptions, 'hosts'>;
}

/** Validates `etcdRegistry()` options once, at setup; throws `GL_ERR_INVALID_OPTION`. */
export function resolveEtcdOptions(options: EtcdRegistryOptions): ResolvedEtcdOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('etcdRegistry', 'expected an options object with `endpoints`');
  }
  assertKnownOptions('etcdRegistry()', options, ETCD_REGISTRY_OPTION_KEYS);
  const raw = options.endpoints;
  const hosts = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? [...raw] : [];
  if (hosts.length === 0 || hosts.some((h) => typeof h !== 'string' || h.length === 0)) {
    throw new InvalidOptionError('endpoints', 'expected one or more etcd URLs such as http://127.0.0.1:2379');
  }
  let prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
  if (typeof prefix !== 'string') throw new InvalidOptionError('prefix', 'expected a string');
  while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  if (prefix.length === 0) throw new InvalidOptionError('prefix', 'expected a non-empty key prefix');
  const ttlSeconds = positiveOption(options.ttlSeconds, 'ttlSeconds', DEFAULT_LEASE_TTL_SECONDS, true);
  const requestTimeoutMs = positiveOption(
    options.requestTimeoutMs,
    'requestTimeoutMs',
    DEFAULT_REQUEST_TIMEOUT_MS,
  );
  const { retryInitialMs, retryMaxMs } = retryDelayOptions(options, {
    retryInitialMs: DEFAULT_RETRY_INITIAL_MS,
    retryMaxMs: DEFAULT_RETRY_MAX_MS,
  });
  const clientOptions = options.clientOptions ?? {};
  if (typeof clientOptions !== 'object' || clientOptions === null) {
    throw new InvalidOptionError('clientOptions', 'expected an object');
  }
  return { hosts, prefix, ttlSeconds, requestTimeoutMs, retryInitialMs, retryMaxMs, clientOptions };
}
