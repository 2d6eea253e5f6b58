import type { Etcd3, Lease } from 'etcd3';
import { discoveryChannels } from '../diagnostics';
import { RegistryUnavailableError } from '../errors';
import type { Instance } from '../instance';
import { Backoff } from '../internal/backoff';
import type { Registration } from '../registry';
import { describeError, REGISTRY_NAME } from './internal';

/** What a LeaseRegistration needs from its registry. */
export interface LeaseRegistrationConfig {
  readonly client: Etcd3;
  readonly service: string;
  readonly key: string;
  readonly value: string;
  readonly instance: Instance;
  readonly ttlSeconds: number;
  readonly requestTimeoutMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Called once, when the registration is closed. */
  readonly onClose: (registration: LeaseRegistration) => void;
}

/**
 * One instance key held by a lease. The etcd3 client keeps the lease alive (every TTL/3). When
 * the lease is lost — revoked, or expired while etcd was unreachable (the client gives up after
 * 2 x TTL without a keep-alive) — the key is written again under a fresh lease, retrying with
 * backoff until etcd answers. `close()` revokes the lease, which deletes the key at once.
 */
export class LeaseRegistration implements Registration {
  readonly service: string;
  readonly instance: Instance;
  readonly #config: LeaseRegistrationConfig;
  readonly #retry: Backoff;
  /** The lease that currently holds the key. */
  #lease: Lease | undefined;
  /** A grant + put in flight (first registration or re-registration). */
  #pending: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(config: LeaseRegistrationConfig) {
    this.service = config.service;
    this.instance = config.instance;
    this.#config = config;
    this.#retry = new Backoff(config.retryInitialMs, config.retryMaxMs);
  }

  /** Grants a lease and writes the key; rejects with `GL_ERR_REGISTRY_UNAVAILABLE` when etcd cannot. */
  static async create(config: LeaseRegistrationConfig): Promise<LeaseRegistration> {
    const registration = new LeaseRegistration(config);
    registration.#pending = registration.#attach();
    try {
      await registration.#pending;
    } finally {
      registration.#pending = undefined;
    }
    return registration;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#retry.cancel();
    await this.#pending?.catch(() => undefined);
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) {
      try {
        await lease.revoke({ deadline: Date.now() + this.#config.requestTimeoutMs });
      } catch (err) {
        // etcd is unreachable: the key goes away by itself when the lease's TTL runs out.
        this.#report(`cannot revoke the lease of ${this.#config.key}; it expires with its TTL`, err);
      }
    }
    this.#config.onClose(this);
  }

  async #attach(): Promise<void> {
    const { client, key, value, ttlSeconds, requestTimeoutMs } = this.#config;
    const lease = client.lease(ttlSeconds, { deadline: Date.now() + requestTimeoutMs });
    lease.on('lost', (err: Error) => this.#lost(lease, err));
    try {
      await lease
        .put(key)
        .value(value)
        .options({ deadline: Date.now() + requestTimeoutMs });
    } catch (err) {
      void lease.revoke({ deadline: Date.now() + requestTimeoutMs }).catch(() => undefined);
      throw new RegistryUnavailableError(REGISTRY_NAME, `cannot register ${key}: ${describeError(err)}`, {
        cause: err,
      });
    }
    if (this.#closing !== undefined) {
      // Closed while this (re-)registration was in flight: undo it.
      await lease.revoke({ deadline: Date.now() + requestTimeoutMs }).catch(() => undefined);
      return;
    }
    this.#lease = lease;
  }

  #lost(lease: Lease, err: Error): void {
    if (lease !== this.#lease || this.#closing !== undefined) return;
    this.#lease = undefined;
    this.#report(`lost the lease of ${this.#config.key}; registering again`, err);
    this.#retry.schedule(() => this.#reattach());
  }

  #reattach(): void {
    if (this.#closing !== undefined) return;
    this.#pending = this.#attach().then(
      () => {
        this.#pending = undefined;
        this.#retry.reset();
      },
      (err: unknown) => {
        this.#pending = undefined;
        if (this.#closing !== undefined) return;
        this.#report(`cannot register ${this.#config.key} again; retrying`, err);
        this.#retry.schedule(() => this.#reattach());
      },
    );
  }

  #report(message: string, cause: unknown): void {
    if (!discoveryChannels.registryError.hasSubscribers) return;
    const error =
      cause instanceof RegistryUnavailableError
        ? cause
        : new RegistryUnavailableError(REGISTRY_NAME, `${message}: ${describeError(cause)}`, { cause });
    discoveryChannels.registryError.publish({ registry: REGISTRY_NAME, service: this.service, error });
  }
}
