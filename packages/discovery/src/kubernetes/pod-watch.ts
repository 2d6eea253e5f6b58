import type { CoreV1Api, Watch } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { RegistryUnavailableError } from '../errors';
import { Backoff } from '../internal/backoff';
import { Fanout } from '../internal/fanout';
import type { RegistryListener } from '../registry';
import { describeError, isGone, statusCodeOf, unavailable } from './api-errors';
import {
  MIN_HEALTHY_WATCH_MS,
  type ResolvedServiceOptions,
  selectorString,
  WATCH_STALL_GRACE_MS,
} from './options';
import type { PodLike } from './pod-instance';
import { PodSet } from './pod-set';

/** What a watch needs from client-node, made once per registry from its KubeConfig. */
export interface KubernetesClient {
  readonly api: CoreV1Api;
  readonly watch: Watch;
  /** The registry's namespace (option, kubeconfig context, or `default`). */
  readonly namespace: string;
  /** Per-call options that make a list or read abortable through `signal`. */
  readonly callOptions: (signal: AbortSignal) => CallOptions;
}

/** The per-call configuration options of client-node's generated API methods. */
export type CallOptions = Parameters<CoreV1Api['listNamespacedPod']>[1];

/** Registry-wide settings a watch uses. */
export interface PodWatchSettings {
  readonly pageSize: number;
  readonly watchTimeoutSeconds: number;
  readonly requestTimeoutMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

function resourceVersionOf(object: unknown): string | undefined {
  const metadata = (object as PodLike | undefined)?.metadata;
  const version = metadata?.resourceVersion;
  return typeof version === 'string' && version.length > 0 ? version : undefined;
}

/**
 * List + watch of one service's Pods, delivering complete instance sets to its subscribers.
 *
 * - resourceVersion continuity: the watch starts at the list's resourceVersion and resumes from
 *   the last event or BOOKMARK it saw (bookmarks are requested);
 * - 410 Gone (HTTP status or `ERROR` event) -> relist; the relist replaces the set, so nothing
 *   deleted meanwhile survives;
 * - a watch that ends is reopened at once if it was healthy, else after a backoff;
 * - failures are delivered as `{ ok: false, error }`; subscribers keep the last good set.
 */
export class PodWatch {
  readonly service: string;
  readonly #options: ResolvedServiceOptions;
  readonly #settings: PodWatchSettings;
  readonly #connect: () => Promise<KubernetesClient>;
  readonly #set: PodSet;
  readonly #backoff: Backoff;
  readonly #fanout: Fanout;
  readonly #stop = new AbortController();
  #stopped = false;
  #resourceVersion = '';
  #selector = '';
  #namespace = '';
  #cycle: Promise<void> | undefined;
  #attempt = 0;
  #watch: AbortController | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  #goneStreak = 0;

  constructor(
    service: string,
    options: ResolvedServiceOptions,
    settings: PodWatchSettings,
    connect: () => Promise<KubernetesClient>,
  ) {
    this.service = service;
    this.#options = options;
    this.#settings = settings;
    this.#connect = connect;
    this.#set = new PodSet(options.port);
    this.#fanout = new Fanout('kubernetes', service, () => this.#set.instances());
    this.#backoff = new Backoff(settings.retryInitialMs, settings.retryMaxMs);
  }

  /** True when nobody is subscribed any more. */
  get idle(): boolean {
    return this.#fanout.empty;
  }

  /** Starts listing and watching. */
  start(): void {
    this.#run();
  }

  /** Adds a subscriber; it gets the current set (or failure) asynchronously. Returns its removal. */
  add(listener: RegistryListener): () => void {
    return this.#fanout.add(listener);
  }

  /** Stops the watch, pending retries and in-flight requests; resolves once the cycle has settled. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#fanout.close();
    this.#backoff.cancel();
    this.#stop.abort();
    this.#endWatch();
    await this.#cycle;
  }

  #run(): void {
    if (this.#stopped) return;
    this.#cycle = this.#listThenWatch();
  }

  /** Runs the next cycle after `delayMs` (default: the next backoff delay). */
  #schedule(delayMs?: number): void {
    if (this.#stopped) return;
    this.#backoff.schedule(() => this.#run(), delayMs);
  }

  async #listThenWatch(): Promise<void> {
    let client: KubernetesClient;
    let step = 'connecting to the API server';
    try {
      client = await this.#connect();
      step = 'listing Pods';
      if (this.#resourceVersion === '') await this.#relist(client);
    } catch (error) {
      if (this.#stopped) return;
      if (isGone(error)) {
        // A list `continue` token expired mid-list: start the list over.
        this.#resourceVersion = '';
        this.#schedule(this.#goneStreak++ === 0 ? 0 : this.#backoff.next());
        return;
      }
      this.#fail(unavailable(this.service, step, error));
      this.#schedule();
      return;
    }
    if (!this.#stopped) this.#openWatch(client);
  }

  async #relist(client: KubernetesClient): Promise<void> {
    const namespace = this.#options.namespace ?? client.namespace;
    const selector = this.#options.selector ?? (await this.#serviceSelector(client, namespace));
    const items: PodLike[] = [];
    let resourceVersion = '';
    let cursor: string | undefined;
    do {
      const signal = AbortSignal.any([
        this.#stop.signal,
        AbortSignal.timeout(this.#settings.requestTimeoutMs),
      ]);
      const page = await client.api.listNamespacedPod(
        { namespace, labelSelector: selector, limit: this.#settings.pageSize, _continue: cursor },
        client.callOptions(signal),
      );
      if (this.#stopped) return;
      for (const item of page.items) items.push(item);
      resourceVersion = page.metadata?.resourceVersion ?? '';
      cursor = page.metadata?._continue || undefined;
    } while (cursor !== undefined);
    this.#namespace = namespace;
    this.#selector = selector;
    this.#resourceVersion = resourceVersion;
    const changed = this.#set.replace(items);
    this.#backoff.reset();
    if (changed || this.#fanout.failing) this.#fanout.changed();
  }

  async #serviceSelector(client: KubernetesClient, namespace: string): Promise<string> {
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#settings.requestTimeoutMs)]);
    let selector: Readonly<Record<string, string>> | undefined;
    try {
      const service = await client.api.readNamespacedService(
        { name: this.service, namespace },
        client.callOptions(signal),
      );
      selector = service.spec?.selector;
    } catch (error) {
      const what =
        statusCodeOf(error) === 404
          ? `Service ${namespace}/${this.service} not found (create it, or set services.${this.service}.selector)`
          : `reading Service ${namespace}/${this.service}`;
      throw unavailable(this.service, what, error);
    }
    if (selector === undefined || Object.keys(selector).length === 0) {
      throw new RegistryUnavailableError(
        'kubernetes',
        `service ${this.service}: Service ${namespace}/${this.service} has no selector; set services.${this.service}.selector`,
      );
    }
    return selectorString(selector);
  }

  #openWatch(client: KubernetesClient): void {
    const attempt = ++this.#attempt;
    const startedAt = Date.now();
    let events = 0;
    let established = false;
    let gone = false;
    let failure: unknown;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/pods`;
    const query = {
      labelSelector: this.#selector,
      resourceVersion: this.#resourceVersion || undefined,
      allowWatchBookmarks: true,
      timeoutSeconds: this.#settings.watchTimeoutSeconds,
    };

    const onEvent = (type: string, object: unknown): void => {
      if (attempt !== this.#attempt) return;
      events++;
      if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
        if (this.#set.apply(type, object as PodLike)) this.#fanout.changed();
        this.#resourceVersion = resourceVersionOf(object) ?? this.#resourceVersion;
        this.#goneStreak = 0;
      } else if (type === 'BOOKMARK') {
        this.#resourceVersion = resourceVersionOf(object) ?? this.#resourceVersion;
        this.#goneStreak = 0;
      } else if (type === 'ERROR') {
        if (isGone(object)) gone = true;
        else failure = object;
        this.#watch?.abort();
      }
    };

    const onDone = (error: unknown): void => {
      if (attempt !== this.#attempt) return;
      this.#attempt++;
      this.#endWatch();
      if (this.#stopped) return;
      if (gone || isGone(error)) {
        this.#resourceVersion = '';
        this.#schedule(this.#goneStreak++ === 0 ? 0 : this.#backoff.next());
      } else if (failure !== undefined || (!established && error)) {
        this.#fail(unavailable(this.service, 'watching Pods', failure ?? error));
        this.#schedule();
      } else if (events > 0 || Date.now() - startedAt >= MIN_HEALTHY_WATCH_MS) {
        this.#backoff.reset();
        this.#goneStreak = 0;
        this.#schedule(0);
      } else {
        this.#schedule();
      }
    };

    client.watch.watch(path, query, onEvent, onDone).then(
      (controller) => {
        if (attempt !== this.#attempt || this.#stopped) {
          controller.abort();
          return;
        }
        established = true;
        this.#watch = controller;
        if (gone || failure !== undefined) {
          controller.abort();
          return;
        }
        // Back after failures were delivered: say so with the (unchanged) set.
        if (this.#fanout.failing) this.#fanout.changed();
        const stallMs = this.#settings.watchTimeoutSeconds * 1000 + WATCH_STALL_GRACE_MS;
        this.#stallTimer = setTimeout(() => controller.abort(), stallMs);
        this.#stallTimer.unref();
      },
      (error: unknown) => onDone(error),
    );
  }

  #endWatch(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    const watch = this.#watch;
    this.#watch = undefined;
    watch?.abort();
  }

  #fail(error: unknown): void {
    this.#fanout.fail(
      error instanceof Error ? error : new RegistryUnavailableError('kubernetes', describeError(error)),
    );
  }
}
