import diagnosticsChannel from 'node:diagnostics_channel';
import type { Instance } from './instance';

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
 *
 * @example
 * import diagnosticsChannel from 'node:diagnostics_channel';
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
});

/** Published on `graylane:discovery:fallback` when a pick was served by a fallback lane. */
export interface FallbackMessage {
  readonly service: string;
  /** The lane asked for. */
  readonly lane: string | undefined;
  /** The lane whose instances served the call; `undefined` for the base lane. */
  readonly servedLane: string | undefined;
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
