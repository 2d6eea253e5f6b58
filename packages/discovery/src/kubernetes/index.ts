export { KubernetesRegistry, kubernetesRegistry } from './kubernetes-registry';
export type { KubernetesRegistryOptions, KubernetesServiceOptions } from './options';
export {
  DEFAULT_LIST_PAGE_SIZE,
  DEFAULT_NAMESPACE,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_WATCH_TIMEOUT_SECONDS,
  MIN_HEALTHY_WATCH_MS,
  WATCH_STALL_GRACE_MS,
} from './options';
