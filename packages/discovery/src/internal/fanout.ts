// The one fan-out every built-in registry delivers through (static, etcd, Kubernetes), and the one
// error policy for listeners: a throwing listener is reported, never rethrown.
import { discoveryChannels } from '../diagnostics';
import type { Instance } from '../instance';
import type { RegistryListener, RegistryUpdate } from '../registry';

/** Warning code emitted (once per process) when a listener throws and nobody listens on the error channel. */
export const LISTENER_THREW_WARNING = 'GL_WARN_REGISTRY_LISTENER_THREW';

let warned = false;

/**
 * Calls a registry (or discovery `watch()`) listener. A throw does not propagate: it is published
 * on `graylane:registry:error` as `{ registry, service, error, listener: true }`; with no subscriber
 * there, a one-time process warning says so. Either way the process does not crash and the other
 * listeners still run.
 */
export function callListener<T>(
  registry: string,
  service: string,
  listener: (value: T) => void,
  value: T,
): void {
  try {
    listener(value);
  } catch (error) {
    reportListenerError(registry, service, error);
  }
}

/** Reports a listener's exception (see {@link callListener}). */
export function reportListenerError(registry: string, service: string, error: unknown): void {
  if (discoveryChannels.registryError.hasSubscribers) {
    discoveryChannels.registryError.publish({ registry, service, error, listener: true });
  } else if (!warned) {
    warned = true;
    const message = error instanceof Error ? error.message : String(error);
    process.emitWarning(
      `a listener of ${registry} registry updates for ${service} threw (${message}); it was skipped. ` +
        'Subscribe to graylane:registry:error to see every such error.',
      { code: LISTENER_THREW_WARNING },
    );
  }
}

interface Subscription {
  readonly listener: RegistryListener;
  /** Sequence number of the last update this subscriber received; 0 = none yet. */
  seen: number;
}

/**
 * Delivers one service's updates to its subscribers: asynchronously (a microtask, so the changes
 * made by one chunk of watch events go out as one update, and the instance array is built once),
 * each subscriber at most once per update, a late subscriber starting from the last good set rather
 * than from a failure that followed it.
 * A throwing listener is reported through {@link callListener} and does not stop the others.
 *
 * @example
 * ```ts
 * const fanout = new Fanout('kubernetes', 'b', () => podSet.instances());
 * const remove = fanout.add((update) => console.log(update));
 * fanout.changed();
 * ```
 */
export class Fanout {
  readonly registry: string;
  readonly service: string;
  readonly #snapshot: () => readonly Instance[];
  readonly #subscriptions = new Set<Subscription>();
  #lastGood: readonly Instance[] | undefined;
  #current: RegistryUpdate | undefined;
  #seq = 0;
  #dirty = false;
  #queued = false;
  #closed = false;

  /** `snapshot` returns the service's current instances; it is called once per delivered change. */
  constructor(registry: string, service: string, snapshot: () => readonly Instance[]) {
    this.registry = registry;
    this.service = service;
    this.#snapshot = snapshot;
  }

  /** True when nobody is subscribed. */
  get empty(): boolean {
    return this.#subscriptions.size === 0;
  }

  /** True while the last update is a failure (or there is none yet). */
  get failing(): boolean {
    return !this.#dirty && (this.#current === undefined || !this.#current.ok);
  }

  /** Adds a subscriber; it gets the current state asynchronously if there is one. Returns its removal. */
  add(listener: RegistryListener): () => void {
    const subscription: Subscription = { listener, seen: 0 };
    this.#subscriptions.add(subscription);
    if (this.#current !== undefined || this.#dirty) this.#queue();
    return () => {
      this.#subscriptions.delete(subscription);
    };
  }

  /** The instance set changed; the new one is read (once) when the update goes out. */
  changed(): void {
    if (this.#closed) return;
    this.#dirty = true;
    this.#seq++;
    this.#queue();
  }

  /** A failure; subscribers keep their last good set. */
  fail(error: Error): void {
    if (this.#closed) return;
    this.#dirty = false;
    this.#current = { ok: false, error };
    this.#seq++;
    this.#queue();
  }

  /** Drops every subscriber; nothing is delivered any more. */
  close(): void {
    this.#closed = true;
    this.#subscriptions.clear();
  }

  #queue(): void {
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#queued = false;
    if (this.#closed) return;
    if (this.#dirty) {
      this.#dirty = false;
      const instances = this.#snapshot();
      this.#lastGood = instances;
      this.#current = { ok: true, instances };
    }
    const current = this.#current;
    if (current === undefined) return;
    const seq = this.#seq;
    for (const subscription of this.#subscriptions) {
      if (subscription.seen === seq) continue;
      const update: RegistryUpdate =
        subscription.seen === 0 && !current.ok && this.#lastGood !== undefined
          ? { ok: true, instances: this.#lastGood }
          : current;
      subscription.seen = seq;
      // Reported, not rethrown: one listener's bug must not stop the others or the watch.
      callListener(this.registry, this.service, subscription.listener, update);
      if (this.#closed) return;
    }
  }
}
