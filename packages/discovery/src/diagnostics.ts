import * as diagnosticsChannel from 'node:diagnostics_channel';
import type { Instance } from './instance';
import type { FallbackReason } from './internal/service-state';

/**
 * The diagnostics channels discovery and its registries publish on. Subscribe with
 * `node:diagnostics_channel` (by name or through these objects: a channel name is process-global,
 * so both reach the same channel); messages are published only while a channel has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:discovery:fallback` | {@link FallbackMessage} — no instance of the lane, a fallback served |
 * | `graylane:discovery:no-instance` | {@link NoInstanceMessage} — pick found nothing to serve the call |
 * | `graylane:registry:update` | {@link RegistryUpdateMessage} — discovery applied a new instance set |
 * | `graylane:registry:error` | {@link RegistryErrorMessage} — a registry failed; the last good set is kept |
 * | `graylane:discovery:outlier` | {@link OutlierMessage} — an instance was ejected, returned, or its ejection was refused by the cap |
 * | `graylane:discovery:retry` | {@link RetryMessage} — a request was retried on another instance of the same routing decision |
 *
 * @example
 * import * as diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe(discoveryChannels.fallback.name, (m) => {
 *   const { service, lane, servedLane } = m as FallbackMessage;
 *   console.warn(`${service}: lane ${lane} served by ${servedLane ?? 'base'}`);
 * });
 */
export const discoveryChannels = Object.freeze({
  fallback: diagnosticsChannel.channel('graylane:discovery:fallback'),
  noInstance: diagnosticsChannel.channel('graylane:discovery:no-instance'),
  registryUpdate: diagnosticsChannel.channel('graylane:registry:update'),
  registryError: diagnosticsChannel.channel('graylane:registry:error'),
  outlier: diagnosticsChannel.channel('graylane:discovery:outlier'),
  retry: diagnosticsChannel.channel('graylane:discovery:retry'),
});

/** Published on `graylane:discovery:fallback` when a pick was served by a fallback lane. */
export interface FallbackMessage {
  readonly service: string;
  /** The lane asked for. */
  readonly lane: string | undefined;
  /** The lane whose instances served the call; `undefined` for the base lane. */
  readonly servedLane: string | undefined;
  /** Why the asked lane could not serve it. */
  readonly reason: FallbackReason;
}

/** Published on `graylane:discovery:no-instance` when a pick found nothing to serve the call. */
export interface NoInstanceMessage {
  readonly service: string;
  readonly lane: string | undefined;
}

/** Published on `graylane:registry:update` when discovery applied a new instance set. */
export interface RegistryUpdateMessage {
  /** The registry's name: `static`, `etcd`, `kubernetes`, or a custom registry's. */
  readonly registry: string;
  readonly service: string;
  readonly instances: readonly Instance[];
}

/**
 * Published on `graylane:registry:error` when a registry reported a failure (or delivered a set
 * discovery could not read); the last good set stays in use. `service` is absent for failures not
 * tied to one service.
 */
export interface RegistryErrorMessage {
  readonly registry: string;
  readonly service?: string;
  readonly error: unknown;
}

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
