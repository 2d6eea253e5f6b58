import { InvalidOptionError } from './errors';
import {
  compileOutbound,
  type HeaderAccess,
  type OutboundConfig,
  type OutboundOptions,
  outboundContext,
  recordHas,
  writeOutbound,
} from './internal/outbound-headers';
import { assertKnownOptions } from './options';

/** Options of {@link laneAxios}. */
export interface LaneAxiosOptions extends OutboundOptions {}

const LANE_AXIOS_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  carry: 1,
} satisfies Record<keyof LaneAxiosOptions, 1>);

/**
 * The part of an axios instance (or the default `axios` export) that {@link laneAxios} uses.
 * Typed loosely so any axios 1.x instance fits without graylane depending on axios.
 */
export interface AxiosLike {
  readonly interceptors: {
    readonly request: {
      use(onFulfilled: never, onRejected?: never, options?: never): number;
      eject(id: number): void;
    };
  };
}

/** Returned by {@link laneAxios}: the interceptor id and a way to remove it. */
export interface LaneAxiosHandle {
  /** The id axios gave the request interceptor. */
  readonly id: number;
  /** Removes the interceptor. Idempotent. */
  eject(): void;
}

/** axios 1.x request headers (`AxiosHeaders`), or a plain record in older or custom setups. */
interface AxiosHeadersLike {
  has(name: string): boolean;
  set(name: string, value: string): unknown;
}

interface AxiosConfigLike {
  headers?: AxiosHeadersLike | Record<string, unknown>;
}

interface AxiosRequestInterceptors {
  use(
    onFulfilled: (config: AxiosConfigLike) => AxiosConfigLike,
    onRejected: null,
    options: { synchronous: boolean },
  ): number;
  eject(id: number): void;
}

function isAxiosHeaders(headers: unknown): headers is AxiosHeadersLike {
  return (
    typeof (headers as AxiosHeadersLike).has === 'function' &&
    typeof (headers as AxiosHeadersLike).set === 'function'
  );
}

const AXIOS_ACCESS: HeaderAccess<AxiosConfigLike> = {
  has(config, name) {
    const headers = config.headers;
    if (headers === undefined || headers === null) return false;
    return isAxiosHeaders(headers) ? headers.has(name) : recordHas(headers, name);
  },
  set(config, name, value) {
    let headers = config.headers;
    if (headers === undefined || headers === null) headers = config.headers = {};
    if (isAxiosHeaders(headers)) headers.set(name, value);
    else headers[name] = value;
    return true;
  },
};

/**
 * Adds an axios request interceptor that writes the current lane (and carried headers) onto
 * every request of `instance`. Hook-free: needs no `enablePropagation` and patches nothing, so
 * it works with every axios adapter. A request that already has the header keeps it; outside a
 * lane the request passes untouched.
 *
 * @param instance an axios instance or the default `axios` export.
 * @param options.header lane header, default `x-mse-tag`.
 * @param options.carry also write carried headers, default `true`.
 * @returns a handle whose `eject()` removes the interceptor.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` when `instance` is not an axios instance
 *   or the options are malformed.
 * @example
 * const client = axios.create({ baseURL: 'http://svc-b' });
 * const lane = laneAxios(client);
 * await withLane('gray', () => client.get('/')); // x-mse-tag: gray
 * lane.eject();
 */
export function laneAxios(instance: AxiosLike, options?: LaneAxiosOptions): LaneAxiosHandle {
  assertKnownOptions('laneAxios()', options, LANE_AXIOS_OPTION_KEYS);
  const interceptors = (
    instance as unknown as { interceptors?: { request?: AxiosRequestInterceptors } } | null
  )?.interceptors?.request;
  if (
    interceptors === undefined ||
    typeof interceptors.use !== 'function' ||
    typeof interceptors.eject !== 'function'
  ) {
    throw new InvalidOptionError('instance', 'must be an axios instance (interceptors.request.use)');
  }
  const outbound: OutboundConfig = compileOutbound(options);
  const id = interceptors.use(
    function laneAxios(config: AxiosConfigLike): AxiosConfigLike {
      const context = outboundContext();
      if (context !== undefined) writeOutbound(config, AXIOS_ACCESS, context, outbound, 'axios');
      return config;
    },
    null,
    { synchronous: true },
  );
  let ejected = false;
  return {
    id,
    eject() {
      if (ejected) return;
      ejected = true;
      interceptors.eject(id);
    },
  };
}
