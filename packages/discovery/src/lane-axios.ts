import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HEADERS_TIMEOUT_MS } from './call-timeouts';
import type { Choice, Discovery } from './create-discovery';
import { discoveryChannels } from './diagnostics';
import { ConnectTimeoutHttpAgent, ConnectTimeoutHttpsAgent } from './internal/connect-timeout-agent';
import {
  failureCode,
  failureOutcome,
  IDEMPOTENT_METHODS,
  isTransportFailure,
  neverReached,
} from './internal/failure-kind';
import { hostPort } from './internal/host-port';
import { DEFAULT_LOAD_TIMEOUT_MS, type ServiceHosts, serviceHostTest } from './service-hosts';

/** The parts of an axios request config this integration reads and rewrites. */
export interface AxiosConfigLike {
  url?: string;
  baseURL?: string;
  headers?: unknown;
  method?: string;
  data?: unknown;
  timeout?: number;
  httpAgent?: unknown;
  httpsAgent?: unknown;
  /** Set by this integration on routed requests (kept by axios across a retry). */
  graylane?: RoutedRequest;
}

/** What this integration remembers on a routed request's config. */
export interface RoutedRequest {
  readonly service: string;
  choice: Choice;
  /** A retry: the URL already names the instance. */
  retry: boolean;
  /** Ended (reported) for the current attempt. */
  ended: boolean;
  /** 1, or 2 for the retry. */
  attempt: number;
}

/** The parts of an axios instance this integration uses (so axios is not a type dependency). */
export interface AxiosLike {
  /** Used to send a retry (same config, another instance). Without it, nothing is retried. */
  // biome-ignore lint/suspicious/noExplicitAny: axios' own config type, which we do not import
  request?(config: any): Promise<unknown>;
  readonly interceptors: {
    readonly request: {
      // biome-ignore lint/suspicious/noExplicitAny: axios' own config type, which we do not import
      use(onFulfilled: (config: any) => any, onRejected?: (error: unknown) => unknown): number;
      eject(id: number): void;
    };
    readonly response: {
      // biome-ignore lint/suspicious/noExplicitAny: axios' own response type, which we do not import
      use(onFulfilled: (response: any) => any, onRejected?: (error: unknown) => unknown): number;
      eject(id: number): void;
    };
  };
}

/** Options of {@link laneAxiosDiscovery}. */
export interface LaneAxiosDiscoveryOptions {
  readonly discovery: Discovery;
  /** Which hosts are services; default and meaning as in `laneDispatcher` ({@link ServiceHosts}). */
  readonly services?: ServiceHosts | undefined;
  /** How long a request for a service not loaded yet waits for its first set. Default 5,000 ms. */
  readonly loadTimeoutMs?: number | undefined;
  /** `Host` header when the request has none: `'service'` (default) or `'instance'` (see `laneDispatcher`). */
  readonly hostHeader?: 'service' | 'instance' | undefined;
  /**
   * Total timeout of a routed request whose config has none (axios' default `timeout: 0` waits
   * forever). Default {@link DEFAULT_HEADERS_TIMEOUT_MS} (30 s).
   */
  readonly timeoutMs?: number | undefined;
  /**
   * Connect timeout of each new connection to an instance (TCP connect, plus the TLS handshake
   * for https). A connect timeout fails with `GL_ERR_CONNECT_TIMEOUT`, counts toward ejection
   * and is retried on another instance. Applied through this integration's own http/https
   * agents (keep-alive, as Node's global agents), used by routed requests whose config sets no
   * `httpAgent` / `httpsAgent`; axios' `fetch` adapter does not use agents. Default
   * {@link DEFAULT_CONNECT_TIMEOUT_MS} (3 s).
   */
  readonly connectTimeoutMs?: number | undefined;
  /** As `laneDispatcher`'s `retryIdempotent`. Default `false`. */
  readonly retryIdempotent?: boolean | undefined;
}

const LANE_AXIOS_DISCOVERY_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  services: 1,
  loadTimeoutMs: 1,
  hostHeader: 1,
  timeoutMs: 1,
  connectTimeoutMs: 1,
  retryIdempotent: 1,
} satisfies Record<keyof LaneAxiosDiscoveryOptions, 1>);

const ABSOLUTE_URL = /^[a-z][a-z\d+\-.]*:\/\//i;

/**
 * Makes an axios instance send `http://<service>/...` to the instance `discovery` picks for the
 * current lane: a request interceptor rewrites the URL's host and port (and sets `Host` to the
 * service unless the request has one), a response interceptor reports the end of the request
 * (for the `p2c` balancer). Other hosts are left alone. A request that no instance can serve
 * rejects with `NoInstanceError` (`GL_ERR_NO_INSTANCE`). Returns a function that removes both
 * interceptors.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad arguments.
 * @example
 * const http = axios.create();
 * laneAxiosDiscovery(http, { discovery });
 * await http.get('http://svc-b/orders'); // gray instance of svc-b in lane gray
 */
export function laneAxiosDiscovery(axios: AxiosLike, options: LaneAxiosDiscoveryOptions): () => void {
  if (typeof axios?.interceptors?.request?.use !== 'function') {
    throw new InvalidOptionError('axios', 'expected an axios instance');
  }
  assertKnownOptions('laneAxiosDiscovery()', options, LANE_AXIOS_DISCOVERY_OPTION_KEYS);
  const discovery = options?.discovery;
  if (typeof discovery?.pick !== 'function') {
    throw new InvalidOptionError('discovery', 'expected a Discovery (createDiscovery())');
  }
  const isService = serviceHostTest(discovery, options.services);
  const loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
  if (typeof loadTimeoutMs !== 'number' || !(loadTimeoutMs >= 0) || !Number.isFinite(loadTimeoutMs)) {
    throw new InvalidOptionError('loadTimeoutMs', 'expected a number of milliseconds >= 0');
  }
  const instanceHost = options.hostHeader === 'instance';
  if (options.hostHeader !== undefined && options.hostHeader !== 'service' && !instanceHost) {
    throw new InvalidOptionError('hostHeader', "expected 'service' or 'instance'");
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new InvalidOptionError('timeoutMs', 'expected a positive number of milliseconds');
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (typeof connectTimeoutMs !== 'number' || !(connectTimeoutMs > 0) || !Number.isFinite(connectTimeoutMs)) {
    throw new InvalidOptionError('connectTimeoutMs', 'expected a positive number of milliseconds');
  }
  const httpAgent = new ConnectTimeoutHttpAgent(connectTimeoutMs);
  const httpsAgent = new ConnectTimeoutHttpsAgent(connectTimeoutMs);
  const retryIdempotent = options.retryIdempotent === true;
  const send = typeof axios.request === 'function' ? axios.request.bind(axios) : null;

  function laneAxiosDiscovery(config: AxiosConfigLike): AxiosConfigLike | Promise<AxiosConfigLike> {
    const routed = config.graylane;
    if (routed?.retry === true) {
      // A retry sent by this integration: the URL names the chosen instance already.
      routed.retry = false;
      routed.ended = false;
      discovery.report(routed.service, routed.choice.instance, 'start');
      return config;
    }
    const full = fullUrl(config);
    if (full === undefined) return config;
    let url: URL;
    try {
      url = new URL(full);
    } catch {
      return config;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return config;
    const service = url.hostname;
    if (!isService(service)) return config;
    if (!discovery.isLoaded(service)) {
      // Not loaded yet: wait (bounded) for the first set; never fall through to DNS. After
      // close(), ready() rejects with GL_ERR_DISCOVERY_CLOSED.
      return discovery.ready(service, { timeoutMs: loadTimeoutMs }).then(() => route(config, url, service));
    }
    return route(config, url, service);
  }

  function route(config: AxiosConfigLike, url: URL, service: string): AxiosConfigLike {
    const choice = discovery.choose(service);
    discovery.countPick(choice);
    const instance = choice.instance;
    const authority = url.host;
    url.host = hostPort(instance);
    config.url = url.href;
    config.baseURL = undefined;
    if (config.timeout === undefined || config.timeout === 0) config.timeout = timeoutMs;
    // Our agents carry the connect timeout; an agent the caller chose is kept as it is.
    if (config.httpAgent === undefined || config.httpAgent === null) config.httpAgent = httpAgent;
    if (config.httpsAgent === undefined || config.httpsAgent === null) config.httpsAgent = httpsAgent;
    setHostHeader(config, instanceHost ? hostPort(instance) : authority);
    config.graylane = { service, choice, retry: false, ended: false, attempt: 1 };
    discovery.report(service, instance, 'start');
    return config;
  }

  function end(routed: RoutedRequest): void {
    if (routed.ended) return;
    routed.ended = true;
    discovery.report(routed.service, routed.choice.instance, 'end');
  }

  function onResponse(response: { config?: AxiosConfigLike; status?: number }): unknown {
    const routed = response?.config?.graylane;
    if (routed !== undefined) {
      end(routed);
      const status = response.status ?? 0;
      discovery.reportOutcome(
        routed.service,
        routed.choice.instance,
        status >= 500 ? 'server-error' : 'success',
      );
    }
    return response;
  }

  function onError(error: unknown): unknown {
    const failure = error as { config?: AxiosConfigLike; response?: { status?: number } } | null;
    const config = failure?.config;
    const routed = config?.graylane;
    if (config === undefined || routed === undefined) return Promise.reject(error);
    end(routed);
    const instance = routed.choice.instance;
    if (failure!.response !== undefined) {
      // The instance answered (axios rejects non-2xx by default): not a transport failure.
      const status = failure!.response.status ?? 0;
      discovery.reportOutcome(routed.service, instance, status >= 500 ? 'server-error' : 'success');
      return Promise.reject(error);
    }
    const code = failureCode(error);
    const outcome = failureOutcome(code);
    if (outcome !== null) discovery.reportOutcome(routed.service, instance, outcome);
    // Retry once, on another instance of the same routing decision, only where it is safe.
    // axios does not say whether the request was written: a reset counts as written.
    if (send === null || config.url === undefined || routed.attempt > 1) return Promise.reject(error);
    const safe = neverReached(code, true);
    const idempotent =
      !safe &&
      retryIdempotent &&
      isTransportFailure(code) &&
      IDEMPOTENT_METHODS.has(String(config.method ?? 'get').toUpperCase()) &&
      (config.data === undefined || typeof config.data === 'string');
    if (!safe && !idempotent) return Promise.reject(error);
    let next: Choice;
    try {
      next = discovery.chooseAgain(routed.choice);
    } catch {
      return Promise.reject(error);
    }
    discovery.countPick(next);
    if (discoveryChannels.retry.hasSubscribers) {
      discoveryChannels.retry.publish({
        service: routed.service,
        lane: next.lane,
        from: instance.id,
        to: next.instance.id,
        code,
        client: 'axios',
      });
    }
    const url = new URL(config.url);
    url.host = hostPort(next.instance);
    config.url = url.href;
    if (instanceHost) setHostHeader(config, hostPort(next.instance), true);
    config.graylane = { service: routed.service, choice: next, retry: true, ended: false, attempt: 2 };
    return send(config);
  }

  const requestId = axios.interceptors.request.use(laneAxiosDiscovery);
  const responseId = axios.interceptors.response.use(onResponse, onError);
  return () => {
    axios.interceptors.request.eject(requestId);
    axios.interceptors.response.eject(responseId);
    // The agents are left alone: destroy() would cut requests in flight; their idle keep-alive
    // connections are unref'd and close after the agents' 5 s idle timeout.
  };
}

function fullUrl(config: AxiosConfigLike): string | undefined {
  const { url, baseURL } = config;
  if (typeof url === 'string' && ABSOLUTE_URL.test(url)) return url;
  if (typeof baseURL !== 'string') return undefined;
  if (typeof url !== 'string' || url.length === 0) return baseURL;
  return `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
}

interface HeadersLike {
  has(name: string): boolean;
  set(name: string, value: string): unknown;
}

function setHostHeader(config: AxiosConfigLike, host: string, replace = false): void {
  const headers = replace ? withoutHost(config.headers) : config.headers;
  if (headers === undefined || headers === null) {
    config.headers = { Host: host };
  } else if (
    typeof (headers as HeadersLike).has === 'function' &&
    typeof (headers as HeadersLike).set === 'function'
  ) {
    if (!(headers as HeadersLike).has('host')) (headers as HeadersLike).set('Host', host);
  } else if (typeof headers === 'object') {
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'host')) {
      config.headers = { ...(headers as Record<string, unknown>), Host: host };
    }
  }
}

function withoutHost(headers: unknown): unknown {
  if (headers === undefined || headers === null || typeof headers !== 'object') return headers;
  if (typeof (headers as { delete?: unknown }).delete === 'function') {
    (headers as { delete(name: string): unknown }).delete('host');
    return headers;
  }
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== 'host') copy[name] = value;
  return copy;
}
