import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Every diagnostics channel graylane publishes on. Subscribe with `node:diagnostics_channel`;
 * messages are published only while a channel has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:ingress:invalid-tag` | {@link InvalidTagMessage} — a tag was ignored at ingress |
 * | `graylane:ingress:lane` | `{ lane, carrier }` — a request entered a lane at ingress |
 * | `graylane:propagation:inject` | `{ lane, client }` — a lane header was added to an outbound request |
 * | `graylane:edge:decision` | `{ lane, rule }` — edge rules assigned a lane (`rule` is its index) |
 * | `graylane:discovery:fallback` | `{ service, lane, servedLane }` — no instance of the lane, a fallback served |
 * | `graylane:discovery:no-instance` | `{ service, lane }` — pick found nothing to serve the call |
 * | `graylane:registry:update` | `{ registry, service, instances }` — a registry delivered a new set |
 * | `graylane:registry:error` | `{ registry, service?, error }` — a registry failed; the last good set is kept |
 */
export const channels = Object.freeze({
  invalidTag: diagnosticsChannel.channel('graylane:ingress:invalid-tag'),
  ingressLane: diagnosticsChannel.channel('graylane:ingress:lane'),
  inject: diagnosticsChannel.channel('graylane:propagation:inject'),
  edgeDecision: diagnosticsChannel.channel('graylane:edge:decision'),
  fallback: diagnosticsChannel.channel('graylane:discovery:fallback'),
  noInstance: diagnosticsChannel.channel('graylane:discovery:no-instance'),
  registryUpdate: diagnosticsChannel.channel('graylane:registry:update'),
  registryError: diagnosticsChannel.channel('graylane:registry:error'),
});

/** Why an inbound tag was ignored. */
export type InvalidTagReason = 'grammar' | 'oversize' | 'unmapped' | 'malformed-baggage';

/** Published on `graylane:ingress:invalid-tag`. `value` is cut to 64 characters. */
export interface InvalidTagMessage {
  readonly carrier: 'header' | 'baggage' | 'metadata';
  readonly key: string;
  readonly reason: InvalidTagReason;
  readonly value: string;
}
