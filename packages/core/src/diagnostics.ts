// A namespace import: the declarations then also compile without esModuleInterop (node10 users).
import * as diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The diagnostics channels core publishes on. Subscribe with `node:diagnostics_channel`; messages
 * are published only while a channel has subscribers. Other packages declare their own:
 * `graylane:edge:decision` (`edgeChannels`, `@graylane/express`), `graylane:discovery:*` and
 * `graylane:registry:*` (`discoveryChannels`, `@graylane/discovery`).
 *
 * | channel | message |
 * |---|---|
 * | `graylane:ingress:invalid-tag` | {@link InvalidTagMessage} — a tag was ignored at ingress |
 * | `graylane:ingress:lane` | {@link IngressLaneMessage} `{ lane, carrier }` — a request was counted at ingress (`lane` undefined: base) |
 * | `graylane:propagation:inject` | {@link InjectMessage} `{ lane, client, header }` — a lane header was added to an outbound request |
 */
export const channels = Object.freeze({
  invalidTag: diagnosticsChannel.channel('graylane:ingress:invalid-tag'),
  ingressLane: diagnosticsChannel.channel('graylane:ingress:lane'),
  inject: diagnosticsChannel.channel('graylane:propagation:inject'),
});

/** Published on `graylane:ingress:lane` for every request counted at ingress. */
export interface IngressLaneMessage {
  /** The request's lane; `undefined` for the base lane. */
  readonly lane: string | undefined;
  /** `header` for HTTP requests, `metadata` for gRPC calls. */
  readonly carrier: 'header' | 'metadata';
}

/**
 * Why an inbound tag was ignored:
 *
 * | reason | the value |
 * |---|---|
 * | `grammar` | is not a lane tag |
 * | `oversize` | is longer than the limit for its source |
 * | `unmapped` | is not in the source's value -> lane map |
 * | `malformed-baggage` | the lane member of `baggage` breaks the W3C grammar or its percent-encoding |
 * | `conflict` | the source says two different things (`gray, feature-x`, repeated headers or baggage members that differ) |
 * | `type` | is not a string (null, a number that is not finite, an object, a symbol, ...), or the carrier itself is not one |
 * | `unreadable` | reading it threw (a getter, a Proxy trap, a carrier's `get`) |
 */
export type InvalidTagReason =
  | 'grammar'
  | 'oversize'
  | 'unmapped'
  | 'malformed-baggage'
  | 'conflict'
  | 'type'
  | 'unreadable';

/** Published on `graylane:ingress:invalid-tag`. `value` is cut to 64 characters. */
export interface InvalidTagMessage {
  readonly carrier: 'header' | 'baggage' | 'metadata';
  /** The header, metadata key or baggage key read; `(headers)` when the carrier itself is unusable. */
  readonly key: string;
  readonly reason: InvalidTagReason;
  readonly value: string;
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
