// `@graylane/discovery/etcd`: the etcd v3 registry. Only this entry loads the `etcd3` client.
export { RETRY_JITTER, RETRY_MULTIPLIER } from '../internal/backoff';
export { EtcdRegistry, etcdRegistry, WATCH_STREAM_RETRY_MS } from './etcd-registry';
export type { EtcdRegistryOptions } from './options';
export {
  DEFAULT_ETCD_PREFIX,
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_LEASE_TTL_SECONDS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
} from './options';
export { WATCH_CANCEL_TIMEOUT_MS } from './service-watch';
