import type { Etcd3, IKeyValue, IRangeResponse, IWatchResponse, Watcher } from 'etcd3';
import { discoveryChannels } from '../diagnostics';
import { RegistryUnavailableError } from '../errors';
import type { Instance } from '../instance';
import { Backoff } from '../internal/backoff';
import { callListener } from '../internal/fanout';
import type { RegistryListener, RegistryUpdate } from '../registry';
import { decodeInstance } from './codec';
import { describeError, REGISTRY_NAME, withTimeout } from './internal';

/** gRPC status code CANCELLED. */
const GRPC_STATUS_CANCELLED = 1;

/** How long closing a watch waits for etcd to confirm the cancel before giving up on it. */
export const WATCH_CANCEL_TIMEOUT_MS = 1_000;

/** One subscriber; an object so the same function can subscribe twice. */
export interface Subscription {
  readonly listener: RegistryListener;
}

interface Entry {
  readonly value: string;
  readonly instance: Instance;
}

/** What a ServiceWatch needs from its registry. */
export interface ServiceWatchConfig {
  readonly client: Etcd3;
  readonly service: string;
  readonly keyPrefix: string;
  readonly requestTimeoutMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

/**
 * The instance set of one service, kept current for any number of subscribers:
 *
 * 1. list `<prefix>/<service>/` (values + revision R) and deliver the set;
 * 2. watch from R + 1, so no change between the list and the watch is lost;
 * 3. when etcd cancels the watch (compaction: R + 1 is gone) relist at once and watch again;
 * 4. when etcd is unreachable, deliver `{ ok: false }` once, keep the set, and relist with
 *    backoff until etcd answers; then deliver the fresh set and watch again.
 */
export class ServiceWatch {
  readonly #config: ServiceWatchConfig;
  readonly #retry: Backoff;
  readonly #subscriptions = new Set<Subscription>();
  readonly #entries = new Map<string, Entry>();
  /** The last good set; `undefined` until the first list succeeded. */
  #instances: readonly Instance[] | undefined;
  /** Set while etcd is unreachable, after `{ ok: false }` was delivered. */
  #error: RegistryUnavailableError | undefined;
  #watcher: Watcher | undefined;
  /** Bumped by every (re)list and by close(), so stale async results are dropped. */
  #generation = 0;
  #closed = false;
  /**
   * False after a watch was canceled until a watch delivers again: a second cancel in a row
   * relists with backoff instead of at once.
   */
  #watchWorks = true;

  constructor(config: ServiceWatchConfig) {
    this.#config = config;
    this.#retry = new Backoff(config.retryInitialMs, config.retryMaxMs);
  }

  /** Adds a subscriber. A subscriber joining a running watch gets the current state asynchronously. */
  add(listener: RegistryListener): Subscription {
    const subscription: Subscription = { listener };
    this.#subscriptions.add(subscription);
    if (this.#instances !== undefined || this.#error !== undefined) {
      setImmediate(() => this.#catchUp(subscription));
    }
    return subscription;
  }

  /** Removes a subscriber; returns true when none is left. */
  remove(subscription: Subscription): boolean {
    this.#subscriptions.delete(subscription);
    return this.#subscriptions.size === 0;
  }

  start(): void {
    void this.#list();
  }

  /** Stops the watch and any retry; resolves when etcd confirmed the cancel (bounded). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    this.#retry.cancel();
    this.#subscriptions.clear();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher !== undefined)
      await withTimeout(watcher.cancel(), WATCH_CANCEL_TIMEOUT_MS).catch(() => undefined);
  }

  #catchUp(subscription: Subscription): void {
    if (!this.#subscriptions.has(subscription)) return;
    if (this.#instances !== undefined) this.#call(subscription, { ok: true, instances: this.#instances });
    if (this.#error !== undefined && this.#subscriptions.has(subscription)) {
      this.#call(subscription, { ok: false, error: this.#error });
    }
  }

  async #list(): Promise<void> {
    const generation = ++this.#generation;
    this.#retry.cancel();
    const { client, keyPrefix, requestTimeoutMs } = this.#config;
    let res: IRangeResponse;
    try {
      res = await client
        .getAll()
        .prefix(keyPrefix)
        .options({ deadline: Date.now() + requestTimeoutMs })
        .exec();
    } catch (err) {
      if (generation === this.#generation && !this.#closed) this.#unavailable(err);
      return;
    }
    if (generation !== this.#generation || this.#closed) return;
    const before = new Map(this.#entries);
    this.#entries.clear();
    for (const kv of res.kvs) this.#put(kv);
    const changed = !sameEntries(before, this.#entries);
    const recovered = this.#error !== undefined;
    this.#error = undefined;
    this.#retry.reset();
    if (changed || recovered || this.#instances === undefined) this.#deliverSet();
    this.#watch(res.header.revision);
  }

  #watch(listedRevision: string): void {
    const { client, keyPrefix } = this.#config;
    // `.watcher()` rather than `.create()`: create() hands the Watcher over only once etcd has
    // confirmed it, so a watch started while etcd is down could never be cancelled (and the
    // client would retry it forever). We need the handle at once.
    const watcher = client
      .watch()
      .prefix(keyPrefix)
      .startRevision(String(BigInt(listedRevision) + 1n))
      .watcher();
    this.#watcher = watcher;
    watcher.on('data', (res: IWatchResponse) => this.#onChanges(watcher, res));
    watcher.on('disconnected', (err: Error) => this.#onWatchFailed(watcher, err, true));
    // Emitted when etcd cancels the watch, e.g. because the start revision was compacted.
    watcher.on('error', (err: Error) => this.#onWatchFailed(watcher, err, false));
  }

  #onChanges(watcher: Watcher, res: IWatchResponse): void {
    if (watcher !== this.#watcher) return;
    this.#watchWorks = true;
    if (res.events.length === 0) return;
    let changed = false;
    for (const event of res.events) {
      if (event.type === 'Delete') {
        if (this.#entries.delete(event.kv.key.toString())) changed = true;
      } else if (this.#put(event.kv)) {
        changed = true;
      }
    }
    if (changed) this.#deliverSet();
  }

  #onWatchFailed(watcher: Watcher, err: Error, disconnected: boolean): void {
    if (watcher !== this.#watcher) return;
    this.#watcher = undefined;
    // While disconnected, cancel() only takes the watcher off the client's reconnect list:
    // we resync by relisting instead of resuming from the client's last revision.
    if (disconnected) void watcher.cancel().catch(() => undefined);
    if (disconnected && isClientCancel(err)) {
      void this.#list();
    } else if (disconnected) {
      this.#unavailable(err);
    } else if (this.#watchWorks) {
      // Typically a compaction past our start revision: relist now, then watch from there.
      this.#watchWorks = false;
      void this.#list();
    } else {
      // Canceled again before the new watch delivered anything (permissions, a server bug):
      // keep the set, report, and retry with backoff rather than in a tight loop.
      this.#report(
        new RegistryUnavailableError(
          REGISTRY_NAME,
          `watch of ${this.#config.service} canceled again: ${describeError(err)}`,
          { cause: err },
        ),
      );
      this.#retry.schedule(() => void this.#list());
    }
  }

  /** Stores one key's value; returns whether the set changed. Malformed values are skipped and reported. */
  #put(kv: IKeyValue): boolean {
    const key = kv.key.toString();
    const value = kv.value.toString();
    const previous = this.#entries.get(key);
    if (previous !== undefined && previous.value === value) return false;
    const decoded = decodeInstance(key, this.#config.keyPrefix, value);
    if (decoded instanceof Error) {
      this.#report(decoded);
      return this.#entries.delete(key);
    }
    this.#entries.set(key, { value, instance: decoded });
    return true;
  }

  #unavailable(cause: unknown): void {
    const error = new RegistryUnavailableError(
      REGISTRY_NAME,
      `cannot watch service ${this.#config.service}: ${describeError(cause)}`,
      { cause },
    );
    // The consumer (createDiscovery) publishes failures it receives; one per outage, not per retry.
    if (this.#error === undefined) {
      this.#error = error;
      this.#deliver({ ok: false, error });
    }
    this.#retry.schedule(() => void this.#list());
  }

  /** Publishes what subscribers are not told: skipped values, throwing listeners. */
  #report(error: unknown): void {
    if (discoveryChannels.registryError.hasSubscribers) {
      discoveryChannels.registryError.publish({
        registry: REGISTRY_NAME,
        service: this.#config.service,
        error,
      });
    }
  }

  #deliverSet(): void {
    const instances = Object.freeze(Array.from(this.#entries.values(), (entry) => entry.instance));
    this.#instances = instances;
    this.#deliver({ ok: true, instances });
  }

  #deliver(update: RegistryUpdate): void {
    for (const subscription of [...this.#subscriptions]) {
      if (this.#subscriptions.has(subscription)) this.#call(subscription, update);
    }
  }

  #call(subscription: Subscription, update: RegistryUpdate): void {
    // A throwing listener must not stop the others nor the watch; it is reported, not rethrown.
    callListener(REGISTRY_NAME, this.#config.service, subscription.listener, update);
  }
}

/**
 * True for the stream end the etcd3 client causes itself: when etcd cancels the last watch on a
 * stream, the client cancels the stream, and a watch attached just before that tears down is
 * "disconnected" with gRPC status CANCELLED. etcd was reachable all along: rewatch, no outage.
 */
function isClientCancel(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { code?: unknown }).code === GRPC_STATUS_CANCELLED
  );
}

function sameEntries(a: ReadonlyMap<string, Entry>, b: ReadonlyMap<string, Entry>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, entry] of a) if (b.get(key)?.value !== entry.value) return false;
  return true;
}
