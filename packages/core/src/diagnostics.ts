// A namespace import: the declarations then also compile without esModuleInterop (node10 users).
import * as diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Every diagnostics channel graylane publishes on. Subscribe with `node:diagnostics_channel`;
 * messages are published only while a channel has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:ingress:invalid-tag` | {@link InvalidTagMessage} — a tag was ignored at ingress |
 * | `graylane:ingress:lane` | {@link IngressLaneMessage} `{ lane, carrier }` — a request was counted at ingress (`lane` undefined: base) |
 * | `graylane:propagation:inject` | {@link InjectMessage} `{ lane, client, header }` — a lane header was added to an outbound request |
 * | `graylane:edge:decision` | {@link EdgeDecisionMessage} `{ lane, rule, name, source }` — the edge settled a request's lane |
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

/** Published on `graylane:ingress:lane` for every request counted at ingress. */
export interface IngressLaneMessage {
  /** The request's lane; `undefined` for the base lane. */
  readonly lane: string | undefined;
  /** `header` for HTTP requests, `metadata` for gRPC calls. */
  readonly carrier: 'header' | 'metadata';
}

/** Why an inbound tag was ignored. */
export type InvalidTagReason = 'grammar' | 'oversize' | 'unmapped' | 'malformed-baggage';

/** Published on `graylane:ingress:invalid-tag`. `value` is cut to 64 characters. */
export interface InvalidTagMessage {
  readonly carrier: 'header' | 'baggage' | 'metadata';
  readonly key: string;
  readonly reason: InvalidTagReason;
  readonly value: string;
}

/**
 * Published on `graylane:edge:decision` when the edge settles a request's lane: a rule matched
 * (`source: 'rule'`, `rule` its index, `lane` undefined for a base-lane rule) or a trusted tag the
 * client sent was kept (`source: 'client'`, `rule` -1). Not published when nothing matched.
 */
export interface EdgeDecisionMessage {
  readonly lane: string | undefined;
  readonly rule: number;
  readonly name: string | undefined;
  readonly source: 'rule' | 'client';
}

/** The outbound form that wrote a lane header. */
export type InjectClient = 'undici' | 'http' | 'https' | 'interceptor' | 'axios';

/** Published on `graylane:propagation:inject` when a lane header is added to an outbound request. */
export interface InjectMessage {
  readonly lane: string;
  readonly client: InjectClient;
  /** The header written (lowercase). */
  readonly header: string;
}
