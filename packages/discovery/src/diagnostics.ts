import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Diagnostics channels declared by `@graylane/discovery` itself (the older discovery channels,
 * `graylane:discovery:fallback`, `graylane:discovery:no-instance`, `graylane:registry:*`, are
 * still declared in `@graylane/core`'s `channels`). Messages are published only while a channel
 * has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:discovery:outlier` | {@link OutlierMessage} — an instance was ejected, returned, or its ejection was refused by the cap |
 * | `graylane:discovery:retry` | {@link RetryMessage} — a request was retried on another instance of the same routing decision |
 *
 * @example
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe('graylane:discovery:outlier', (m) => console.log(m));
 */
export const discoveryChannels = Object.freeze({
  outlier: diagnosticsChannel.channel('graylane:discovery:outlier'),
  retry: diagnosticsChannel.channel('graylane:discovery:retry'),
});

/** Why an instance's failures counted toward ejection. */
export type OutlierReason = 'connect-failure' | 'timeout' | 'server-error';

/** Published on `graylane:discovery:outlier`. */
export interface OutlierMessage {
  /** `ejected`: left its lane's bucket; `returned`: back, on probation; `capped`: not ejected because of `maxEjectionPercent`. */
  readonly event: 'ejected' | 'returned' | 'capped';
  readonly service: string;
  /** The instance's lane (`undefined` = base). */
  readonly lane: string | undefined;
  readonly instance: { readonly id: string; readonly host: string; readonly port: number };
  /** What tipped it (absent for `returned`). */
  readonly reason?: OutlierReason;
  /** Times this instance has been ejected in a row (1 for the first). */
  readonly ejections: number;
  /** For `ejected`: how long it stays out. */
  readonly durationMs?: number;
}

/** Published on `graylane:discovery:retry`. */
export interface RetryMessage {
  readonly service: string;
  /** The requested lane (`undefined` = base). */
  readonly lane: string | undefined;
  /** The instance that failed before any byte of the request reached it. */
  readonly from: string;
  /** The instance the request went to instead. */
  readonly to: string;
  /** The failure's code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, ...). */
  readonly code: string | undefined;
  /** `http` (laneDispatcher), `axios`, `grpc`. */
  readonly client: string;
}
