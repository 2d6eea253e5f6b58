import type { Etcd3, IKeyValue, Watcher } from 'etcd3';

/** First retry delay after etcd could not be read or the watch failed, ms. */
export const DEFAULT_ETCD_RETRY_INITIAL_MS = 250;
/** Retry delays double up to this, ms. */
export const DEFAULT_ETCD_RETRY_MAX_MS = 5_000;

/** What a {@link KeyWatch} reports: the key's value (undefined when absent) or a failure. */
export type KeyWatchEvent =
  | { readonly ok: true; readonly value: string | undefined; readonly modRevision: string }
  | { readonly ok: false; readonly error: unknown };

/**
 * @internal Keeps one etcd key current: get (value + revision R), watch from R + 1 so no change is
 * lost; on a watch failure or an unreachable etcd, report once and get again with backoff.
 * Timers are unref'd.
 */
export class KeyWatch {
  readonly #client: Etcd3;
  readonly #key: string;
  readonly #requestTimeoutMs: number;
  readonly #onEvent: (event: KeyWatchEvent) => void;
  #watcher: Watcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay = DEFAULT_ETCD_RETRY_INITIAL_MS;
  #generation = 0;
  #failing = false;
  #closed = false;

  constructor(client: Etcd3, key: string, requestTimeoutMs: number, onEvent: (event: KeyWatchEvent) => void) {
    this.#client = client;
    this.#key = key;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#onEvent = onEvent;
  }

  start(): void {
    void this.#sync();
  }

  /** Reads the key again now (a backstop against a silently lost watch). */
  resync(): void {
    if (!this.#closed) void this.#sync();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#generation++;
    clearTimeout(this.#timer);
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher !== undefined) await watcher.cancel().catch(() => undefined);
  }

  async #sync(): Promise<void> {
    const generation = ++this.#generation;
    clearTimeout(this.#timer);
    let kvs: IKeyValue[];
    let revision: string;
    try {
      const res = await this.#client
        .get(this.#key)
        .options({ deadline: Date.now() + this.#requestTimeoutMs })
        .exec();
      kvs = res.kvs;
      revision = res.header.revision;
    } catch (error) {
      if (generation !== this.#generation || this.#closed) return;
      this.#fail(error);
      return;
    }
    if (generation !== this.#generation || this.#closed) return;
    this.#failing = false;
    this.#delay = DEFAULT_ETCD_RETRY_INITIAL_MS;
    const kv = kvs[0];
    this.#emit({ ok: true, value: kv?.value.toString(), modRevision: kv?.mod_revision ?? revision });
    const old = this.#watcher;
    this.#watcher = undefined;
    if (old !== undefined) void old.cancel().catch(() => undefined);
    const watcher = this.#client
      .watch()
      .key(this.#key)
      .startRevision(String(BigInt(revision) + 1n))
      .watcher();
    this.#watcher = watcher;
    watcher.on('put', (kv: IKeyValue) => {
      if (watcher === this.#watcher)
        this.#emit({ ok: true, value: kv.value.toString(), modRevision: kv.mod_revision });
    });
    watcher.on('delete', (kv: IKeyValue) => {
      if (watcher === this.#watcher) this.#emit({ ok: true, value: undefined, modRevision: kv.mod_revision });
    });
    const failed = (error: unknown) => {
      if (watcher !== this.#watcher) return;
      this.#watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      this.#fail(error);
    };
    watcher.on('error', failed);
    watcher.on('disconnected', failed);
  }

  #fail(error: unknown): void {
    if (!this.#failing) {
      this.#failing = true;
      this.#emit({ ok: false, error });
    }
    const delay = this.#delay;
    this.#delay = Math.min(DEFAULT_ETCD_RETRY_MAX_MS, delay * 2);
    this.#timer = setTimeout(() => void this.#sync(), delay);
    this.#timer.unref();
  }

  #emit(event: KeyWatchEvent): void {
    try {
      this.#onEvent(event);
    } catch {
      // the consumer reports its own errors
    }
  }
}
