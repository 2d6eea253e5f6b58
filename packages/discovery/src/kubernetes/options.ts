import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { retryDelayOptions } from '../internal/retry-delays';

/** Namespace used when neither the option nor the kubeconfig context names one. */
export const DEFAULT_NAMESPACE = 'default';
/** Pods per list page (`limit`); later pages follow `continue`. The client-go pager uses the same. */
export const DEFAULT_LIST_PAGE_SIZE = 500;
/** `timeoutSeconds` asked of each watch; the server ends it then and the registry re-watches. */
export const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
/** Extra time a watch may stay silent past its `timeoutSeconds` before it is presumed dead and reopened. */
export const WATCH_STALL_GRACE_MS = 30_000;
/** A watch that ends sooner than this having delivered nothing counts as a failure (backoff applies). */
export const MIN_HEALTHY_WATCH_MS = 1_000;
/** Deadline of each list or Service read, in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** First retry delay after a failed list, Service read or watch, in milliseconds. */
export const DEFAULT_RETRY_INITIAL_MS = 500;
/** Retry delays grow (x2, with jitter) up to this, in milliseconds. */
export const DEFAULT_RETRY_MAX_MS = 30_000;

const MAX_PORT = 65_535;
// IANA_SVC_NAME, what Kubernetes accepts as a container port name: 1..15 chars, lowercase
// alphanumerics and '-', at least one letter, no leading/trailing/double '-'.
const PORT_NAME = /^(?!-)(?!.*--)[a-z0-9-]{1,15}(?<!-)$/;
const HAS_LETTER = /[a-z]/;
// A DNS-1123 label (namespaces).
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
// Label keys: optional DNS-subdomain prefix and '/', then a name (label-value grammar, non-empty).
const LABEL_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * How one logical service maps onto Pods.
 *
 * @example
 * ```ts
 * const a: KubernetesServiceOptions = { port: 'http' };                       // Service `a`'s selector
 * const b: KubernetesServiceOptions = { selector: { app: 'b' }, port: 8080 };  // explicit selector
 * ```
 */
export interface KubernetesServiceOptions {
  /**
   * The Pods of the service. A label map (`{ app: 'b' }`, equality on every key, like a Service's
   * `spec.selector`) or a label-selector string passed to the API server as is
   * (`app=b,tier in (web)`). Default: the `spec.selector` of the Kubernetes Service with the
   * logical service's name, read when the watch starts and on every relist.
   */
  readonly selector?: Readonly<Record<string, string>> | string | undefined;
  /**
   * Which container port an instance listens on: a port name matched against the Pod's container
   * ports (`'http'`) or a number used as is (`8080`). Default: the first port of the first container
   * that declares one. Pods without a matching port are skipped.
   */
  readonly port?: string | number | undefined;
  /** Namespace of this service's Service and Pods. Default: the registry's `namespace`. */
  readonly namespace?: string | undefined;
}

/**
 * Options of {@link kubernetesRegistry}.
 *
 * @example
 * ```ts
 * const registry = kubernetesRegistry({
 *   namespace: 'shop',
 *   services: { a: { port: 'http' }, b: { port: 'grpc' } },
 * });
 * ```
 */
export interface KubernetesRegistryOptions {
  /**
   * A `@kubernetes/client-node` `KubeConfig`. Default: `new KubeConfig()` + `loadFromDefault()`:
   * `$KUBECONFIG`, then `~/.kube/config`, then the in-cluster service account.
   */
  readonly kubeConfig?: KubeConfig | undefined;
  /**
   * Namespace of the Services and Pods. Default: the kubeconfig's current-context namespace (in a
   * cluster: the service account's namespace file), else `default`.
   */
  readonly namespace?: string | undefined;
  /**
   * Logical service name -> how to find its Pods. A service subscribed to but not listed here is
   * watched as `{}` (the Kubernetes Service of the same name, first container port).
   */
  readonly services: Readonly<Record<string, KubernetesServiceOptions>>;
  /** Pods per list page. Default {@link DEFAULT_LIST_PAGE_SIZE} (500). */
  readonly pageSize?: number | undefined;
  /** `timeoutSeconds` of each watch request. Default {@link DEFAULT_WATCH_TIMEOUT_SECONDS} (300). */
  readonly watchTimeoutSeconds?: number | undefined;
  /** Deadline of each list page and Service read, ms. Default {@link DEFAULT_REQUEST_TIMEOUT_MS} (10000). */
  readonly requestTimeoutMs?: number | undefined;
  /** First retry delay, ms. Default {@link DEFAULT_RETRY_INITIAL_MS} (500). */
  readonly retryInitialMs?: number | undefined;
  /** Largest retry delay, ms. Default {@link DEFAULT_RETRY_MAX_MS} (30000). */
  readonly retryMaxMs?: number | undefined;
}

const KUBERNETES_REGISTRY_OPTION_KEYS: readonly string[] = Object.keys({
  kubeConfig: 1,
  namespace: 1,
  services: 1,
  pageSize: 1,
  watchTimeoutSeconds: 1,
  requestTimeoutMs: 1,
  retryInitialMs: 1,
  retryMaxMs: 1,
} satisfies Record<keyof KubernetesRegistryOptions, 1>);

const KUBERNETES_SERVICE_OPTION_KEYS: readonly string[] = Object.keys({
  selector: 1,
  port: 1,
  namespace: 1,
} satisfies Record<keyof KubernetesServiceOptions, 1>);

/** A port option after validation: by name, by number, or the first declared port. */
export type PortSpec = string | number | undefined;

/** One service's options after validation. `selector` undefined = read the Service. */
export interface ResolvedServiceOptions {
  readonly selector: string | undefined;
  readonly port: PortSpec;
  readonly namespace: string | undefined;
}

/** Options after validation, with defaults applied (the namespace is resolved later, with the kubeconfig). */
export interface ResolvedKubernetesOptions {
  readonly kubeConfig: KubeConfig | undefined;
  readonly namespace: string | undefined;
  readonly services: ReadonlyMap<string, ResolvedServiceOptions>;
  readonly pageSize: number;
  readonly watchTimeoutSeconds: number;
  readonly requestTimeoutMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function namespaceOption(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !DNS_LABEL.test(value)) {
    throw new InvalidOptionError(
      path,
      `expected a namespace name (DNS-1123 label), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** True when `key` is a valid Kubernetes label key (`[prefix/]name`). */
export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return LABEL_NAME.test(key);
  return LABEL_PREFIX.test(key.slice(0, slash)) && LABEL_NAME.test(key.slice(slash + 1));
}

/** `{ app: 'b', tier: 'web' }` -> `app=b,tier=web` (keys sorted, so equal maps give equal strings). */
export function selectorString(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}

function selectorOption(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (value.trim().length === 0) throw new InvalidOptionError(path, 'expected a non-empty label selector');
    return value;
  }
  if (!isRecord(value)) throw new InvalidOptionError(path, 'expected a label map or a label-selector string');
  const keys = Object.keys(value);
  if (keys.length === 0) {
    throw new InvalidOptionError(path, 'an empty selector would select every Pod in the namespace');
  }
  for (const key of keys) {
    const label = value[key];
    if (!isLabelKey(key)) throw new InvalidOptionError(`${path}.${key}`, 'not a valid label key');
    if (typeof label !== 'string' || !LABEL_VALUE.test(label)) {
      throw new InvalidOptionError(`${path}.${key}`, `not a valid label value: ${JSON.stringify(label)}`);
    }
  }
  return selectorString(value as Record<string, string>);
}

function portOption(value: unknown, path: string): PortSpec {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > MAX_PORT) {
      throw new InvalidOptionError(path, `expected a port number 1..${MAX_PORT}, got ${value}`);
    }
    return value;
  }
  if (typeof value !== 'string' || !PORT_NAME.test(value) || !HAS_LETTER.test(value)) {
    throw new InvalidOptionError(
      path,
      `expected a container port name (IANA_SVC_NAME) or number, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Validates one service entry; the same defaults apply to services subscribed but not listed. */
export function resolveServiceOptions(value: unknown, path: string): ResolvedServiceOptions {
  if (value === undefined) return { selector: undefined, port: undefined, namespace: undefined };
  if (!isRecord(value))
    throw new InvalidOptionError(path, 'expected an object `{ selector?, port?, namespace? }`');
  assertKnownOptions(`kubernetesRegistry() ${path}`, value, KUBERNETES_SERVICE_OPTION_KEYS);
  return {
    selector: selectorOption(value.selector, `${path}.selector`),
    port: portOption(value.port, `${path}.port`),
    namespace: namespaceOption(value.namespace, `${path}.namespace`),
  };
}

/** Validates `kubernetesRegistry()` options once, at setup; throws `GL_ERR_INVALID_OPTION`. */
export function resolveKubernetesOptions(options: KubernetesRegistryOptions): ResolvedKubernetesOptions {
  if (!isRecord(options)) {
    throw new InvalidOptionError('kubernetesRegistry', 'expected an options object with `services`');
  }
  assertKnownOptions('kubernetesRegistry()', options, KUBERNETES_REGISTRY_OPTION_KEYS);
  const kubeConfig = options.kubeConfig;
  if (
    kubeConfig !== undefined &&
    (!isRecord(kubeConfig) ||
      typeof (kubeConfig as { getCurrentCluster?: unknown }).getCurrentCluster !== 'function')
  ) {
    throw new InvalidOptionError('kubeConfig', 'expected a KubeConfig from @kubernetes/client-node');
  }
  if (!isRecord(options.services)) {
    throw new InvalidOptionError(
      'services',
      'expected an object: { [service]: { selector?, port?, namespace? } }',
    );
  }
  const services = new Map<string, ResolvedServiceOptions>();
  for (const [name, entry] of Object.entries(options.services)) {
    if (name.length === 0) throw new InvalidOptionError('services', 'a service name must be non-empty');
    services.set(name, resolveServiceOptions(entry, `services.${name}`));
  }
  const { retryInitialMs, retryMaxMs } = retryDelayOptions(options, {
    retryInitialMs: DEFAULT_RETRY_INITIAL_MS,
    retryMaxMs: DEFAULT_RETRY_MAX_MS,
  });
  return {
    kubeConfig,
    namespace: namespaceOption(options.namespace, 'namespace'),
    services,
    pageSize: positiveOption(options.pageSize, 'pageSize', DEFAULT_LIST_PAGE_SIZE, true),
    watchTimeoutSeconds: positiveOption(
      options.watchTimeoutSeconds,
      'watchTimeoutSeconds',
      DEFAULT_WATCH_TIMEOUT_SECONDS,
      true,
    ),
    requestTimeoutMs: positiveOption(
      options.requestTimeoutMs,
      'requestTimeoutMs',
      DEFAULT_REQUEST_TIMEOUT_MS,
    ),
    retryInitialMs,
    retryMaxMs,
  };
}
