import { InvalidOptionError, MissingPeerError } from '@graylane/core';
import type { Etcd3, IOptions } from 'etcd3';

/** gRPC keepalive ping interval on the etcd connection, ms (a dead watch is noticed after this + the timeout). */
export const DEFAULT_ETCD_KEEPALIVE_TIME_MS = 10_000;
/** How long a keepalive ping may go unanswered, ms. */
export const DEFAULT_ETCD_KEEPALIVE_TIMEOUT_MS = 5_000;
/** Deadline of each unary etcd call (get, transaction), ms. */
export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 5_000;

/** Connection options shared by the etcd rule source and plan store. */
export interface EtcdConnectionOptions {
  /** etcd client URLs (`http://host:2379`): one string or a list. Required unless `client` is given. */
  readonly endpoints?: string | readonly string[] | undefined;
  /**
   * An `etcd3` client to use instead of making one (it is not closed by `close()`). Share one
   * client between a rule source, a plan store and discovery's etcd registry if you like.
   */
  readonly client?: Etcd3 | undefined;
  /** Passed to the `etcd3` client it makes (TLS `credentials`, `auth`, ...). `hosts` comes from `endpoints`. */
  readonly clientOptions?: Omit<IOptions, 'hosts'> | undefined;
  /** Deadline of each unary call, ms. Default {@link DEFAULT_ETCD_REQUEST_TIMEOUT_MS} (5000). */
  readonly requestTimeoutMs?: number | undefined;
}

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;
const NEVER_ABORTED = new AbortController().signal;
// One endpoint: no circuit breaker (etcd3's default stops calling the only host for 5 s after 3
// failures, which only delays the resync after an etcd restart). Same choice as discovery's registry.
const PASS_THROUGH_POLICY = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    fn({ signal: NEVER_ABORTED }),
} as unknown as HostPolicy; // etcd3 only ever calls execute()

/** @internal An etcd3 client for these options, and whether we own it. */
export function etcdClient(
  options: EtcdConnectionOptions,
  feature: string,
): { client: Etcd3; owned: boolean } {
  if (options.client !== undefined) {
    if (typeof (options.client as { get?: unknown }).get !== 'function') {
      throw new InvalidOptionError('client', 'expected an etcd3 Etcd3 client');
    }
    return { client: options.client, owned: false };
  }
  const raw = options.endpoints;
  const hosts = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? [...raw] : [];
  if (hosts.length === 0 || hosts.some((h) => typeof h !== 'string' || h.length === 0)) {
    throw new InvalidOptionError('endpoints', 'expected one or more etcd URLs such as http://127.0.0.1:2379');
  }
  let etcd3: typeof import('etcd3');
  try {
    etcd3 = require('etcd3') as typeof import('etcd3');
  } catch (error) {
    throw new MissingPeerError(feature, 'etcd3', { cause: error });
  }
  const clientOptions = options.clientOptions ?? {};
  const client = new etcd3.Etcd3({
    ...clientOptions,
    hosts,
    grpcOptions: {
      'grpc.keepalive_time_ms': DEFAULT_ETCD_KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': DEFAULT_ETCD_KEEPALIVE_TIMEOUT_MS,
      ...clientOptions.grpcOptions,
    },
    faultHandling: {
      ...(hosts.length === 1 ? { host: () => PASS_THROUGH_POLICY } : {}),
      ...clientOptions.faultHandling,
    },
  });
  return { client, owned: true };
}
