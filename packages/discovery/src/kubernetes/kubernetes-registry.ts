import { InvalidOptionError } from '@graylane/core';
import { RegistrationUnsupportedError } from '../errors';
import type { ServiceInstanceInit } from '../instance';
import type { Registration, Registry, RegistryListener } from '../registry';
import { assertKubernetesClientInstalled, loadKubernetesClient } from './client';
import {
  DEFAULT_NAMESPACE,
  type KubernetesRegistryOptions,
  type ResolvedKubernetesOptions,
  resolveKubernetesOptions,
  resolveServiceOptions,
} from './options';
import { type KubernetesClient, PodWatch } from './pod-watch';

const REGISTRATION_UNSUPPORTED =
  'Kubernetes registers Pods itself. A Pod is an instance of a service while it matches the ' +
  "service's selector, has a Pod IP and is Ready; put the lane label (for example " +
  "`alicloud.service.tag: gray`) on the Deployment's pod template instead of calling register()";

function noop(): void {}

/**
 * A {@link Registry} backed by the Kubernetes API: each subscribed service's Pods are listed and
 * watched (see {@link kubernetesRegistry}, which creates it).
 *
 * @example
 * ```ts
 * const registry: KubernetesRegistry = kubernetesRegistry({ services: { b: { port: 'grpc' } } });
 * const stop = registry.subscribe('b', (update) => {
 *   if (update.ok) console.log(update.instances.map((i) => `${i.id} ${i.host}:${i.port}`));
 * });
 * ```
 */
export class KubernetesRegistry implements Registry {
  readonly name = 'kubernetes';
  readonly #options: ResolvedKubernetesOptions;
  readonly #watches = new Map<string, PodWatch>();
  #client: Promise<KubernetesClient> | undefined;
  #closed = false;

  constructor(options: KubernetesRegistryOptions) {
    this.#options = resolveKubernetesOptions(options);
    assertKubernetesClientInstalled();
  }

  subscribe(service: string, listener: RegistryListener): () => void {
    if (typeof service !== 'string' || service.length === 0) {
      throw new InvalidOptionError(
        'service',
        `expected a non-empty service name, got ${JSON.stringify(service)}`,
      );
    }
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'expected a function');
    if (this.#closed) return noop;
    let watch = this.#watches.get(service);
    if (watch === undefined) {
      const options =
        this.#options.services.get(service) ?? resolveServiceOptions(undefined, `services.${service}`);
      watch = new PodWatch(service, options, this.#options, () => this.#connect());
      this.#watches.set(service, watch);
      watch.start();
    }
    const owner = watch;
    const remove = owner.add(listener);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      remove();
      if (owner.idle && this.#watches.get(service) === owner) {
        this.#watches.delete(service);
        void owner.stop();
      }
    };
  }

  /** Always rejects with `GL_ERR_REGISTRATION_UNSUPPORTED`: Pods are registered by Kubernetes. */
  register(_instance: ServiceInstanceInit): Promise<Registration> {
    return Promise.reject(new RegistrationUnsupportedError('kubernetes', REGISTRATION_UNSUPPORTED));
  }

  /** Stops every list, watch and retry timer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const watches = [...this.#watches.values()];
    this.#watches.clear();
    await Promise.all(watches.map((watch) => watch.stop()));
  }

  #connect(): Promise<KubernetesClient> {
    this.#client ??= this.#makeClient().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  async #makeClient(): Promise<KubernetesClient> {
    const k8s = await loadKubernetesClient();
    let kubeConfig = this.#options.kubeConfig;
    if (kubeConfig === undefined) {
      kubeConfig = new k8s.KubeConfig();
      kubeConfig.loadFromDefault();
    }
    const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
    const namespace = this.#options.namespace ?? (context?.namespace?.trim() || DEFAULT_NAMESPACE);
    return {
      api: kubeConfig.makeApiClient(k8s.CoreV1Api),
      watch: new k8s.Watch(kubeConfig),
      namespace,
      callOptions: (signal) => ({
        // Appended per call: hands the request its abort signal (close() and the request deadline).
        middleware: [
          {
            pre: (context) => {
              context.setSignal(signal);
              return new k8s.Observable(Promise.resolve(context));
            },
            post: (response) => new k8s.Observable(Promise.resolve(response)),
          },
        ],
        middlewareMergeStrategy: 'append',
      }),
    };
  }
}

/**
 * A registry that reads instances from Kubernetes: for each subscribed service, the Pods selected
 * by the Service of that name (or by `selector`) are listed and watched. An instance is a Pod's IP
 * and container port; its labels are the Pod's labels (so the lane comes from labels such as
 * `alicloud.service.tag: gray`); it is healthy while the Pod is Ready and not terminating. Pods
 * without an IP or a matching port are skipped.
 *
 * Needs RBAC `get` on services and `get`/`list`/`watch` on pods in the namespace (see
 * `examples/kubernetes/10-rbac.yaml`). `register()` is refused: Kubernetes registers Pods itself.
 *
 * @param options `services` is required; every other option has a default (see {@link KubernetesRegistryOptions}).
 * @throws `GL_ERR_INVALID_OPTION` for malformed options, `GL_ERR_MISSING_PEER` when
 *   `@kubernetes/client-node` is not installed.
 *
 * @example
 * ```ts
 * import { createDiscovery } from '@graylane/discovery';
 * import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
 *
 * const registry = kubernetesRegistry({
 *   namespace: 'shop',
 *   services: { a: { port: 'http' }, b: { selector: { app: 'b' }, port: 8080 } },
 * });
 * const discovery = createDiscovery({ registry });
 * ```
 */
export function kubernetesRegistry(options: KubernetesRegistryOptions): KubernetesRegistry {
  return new KubernetesRegistry(options);
}
