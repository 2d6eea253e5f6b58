import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import type { Discovery } from './create-discovery';
import type { Instance } from './instance';
import { hostPort } from './internal/host-port';

/** The parts of an axios request config this integration reads and rewrites. */
export interface AxiosConfigLike {
  url?: string;
  baseURL?: string;
  headers?: unknown;
}

/** The parts of an axios instance this integration uses (so axios is not a type dependency). */
export interface AxiosLike {
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
  /** Host names that are services. Default: every service `discovery` tracks. */
  readonly services?: readonly string[] | undefined;
  /** `Host` header when the request has none: `'service'` (default) or `'instance'` (see `laneDispatcher`). */
  readonly hostHeader?: 'service' | 'instance' | undefined;
}

const LANE_AXIOS_DISCOVERY_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  services: 1,
  hostHeader: 1,
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
  const services =
    options.services === undefined ? null : new Set(options.services.map((s) => s.toLowerCase()));
  const instanceHost = options.hostHeader === 'instance';
  if (options.hostHeader !== undefined && options.hostHeader !== 'service' && !instanceHost) {
    throw new InvalidOptionError('hostHeader', "expected 'service' or 'instance'");
  }
  const inFlight = new WeakMap<object, { service: string; instance: Instance }>();

  function laneAxiosDiscovery(config: AxiosConfigLike): AxiosConfigLike {
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
    if (!(services === null ? discovery.tracks(service) : services.has(service))) return config;
    const instance = discovery.pick(service);
    const authority = url.host;
    url.host = hostPort(instance);
    config.url = url.href;
    config.baseURL = undefined;
    setHostHeader(config, instanceHost ? hostPort(instance) : authority);
    inFlight.set(config, { service, instance });
    discovery.report(service, instance, 'start');
    return config;
  }

  function end(config: unknown): void {
    if (typeof config !== 'object' || config === null) return;
    const started = inFlight.get(config);
    if (started === undefined) return;
    inFlight.delete(config);
    discovery.report(started.service, started.instance, 'end');
  }

  const requestId = axios.interceptors.request.use(laneAxiosDiscovery);
  const responseId = axios.interceptors.response.use(
    (response: { config?: unknown }) => {
      end(response?.config);
      return response;
    },
    (error: unknown) => {
      end((error as { config?: unknown } | null)?.config);
      return Promise.reject(error);
    },
  );
  return () => {
    axios.interceptors.request.eject(requestId);
    axios.interceptors.response.eject(responseId);
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

function setHostHeader(config: AxiosConfigLike, host: string): void {
  const headers = config.headers;
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
