import type { Instance, ServiceInstanceInit } from './instance';

/**
 * What a registry reports for one service: the full current set, or a failure. On failure the
 * consumer keeps the last good set (grpc-js resolver style, `StatusOr`).
 */
export type RegistryUpdate =
  | { readonly ok: true; readonly instances: readonly Instance[] }
  | { readonly ok: false; readonly error: Error };

/** Receives a service's updates. Called asynchronously, never from inside `subscribe()`. */
export type RegistryListener = (update: RegistryUpdate) => void;

/** A self-registration; `close()` deregisters and stops any keep-alive. Idempotent. */
export interface Registration {
  readonly service: string;
  readonly instance: Instance;
  close(): Promise<void>;
}

/**
 * The one interface every registry (static, etcd, Kubernetes, yours) implements.
 *
 * - `subscribe` delivers the service's complete instance set, first soon after the call and then
 *   on every change, always asynchronously; it returns an unsubscribe function.
 * - `register` adds an instance and keeps it alive until the returned registration is closed.
 *   Registries that cannot register (Kubernetes) reject with a typed error.
 * - `close` stops every watch, timer and keep-alive and closes the registrations made through it.
 */
export interface Registry {
  /** Short name for diagnostics: `static`, `etcd`, `kubernetes`. */
  readonly name: string;
  subscribe(service: string, listener: RegistryListener): () => void;
  /**
   * Optional: the service's instance set as the registry knows it right now, synchronously, or
   * `undefined` when it cannot tell without asking a server. The static registry implements it,
   * so instances given in code or a file are pickable right after `createDiscovery()`, and the
   * HTTP integrations know a service the registry declares without DNS.
   */
  current?(service: string): readonly Instance[] | undefined;
  register(instance: ServiceInstanceInit): Promise<Registration>;
  close(): Promise<void>;
}
