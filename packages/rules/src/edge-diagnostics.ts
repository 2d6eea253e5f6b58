import * as diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The diagnostics channel every edge adapter publishes on when it settles a request's lane
 * (`laneEdge()` of `@graylane/express`, `laneFastifyEdge()` of `@graylane/fastify`): declared
 * here, with the rules, so the adapters share one definition and import no other adapter. Subscribe with
 * `node:diagnostics_channel`, by name or through this object (a channel name is process-global);
 * messages are published only while the channel has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:edge:decision` | {@link EdgeDecisionMessage} `{ lane, rule, name, source, version }` — an edge settled a request's lane |
 *
 * @example
 * import * as diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe(edgeChannels.decision.name, (m) => {
 *   const { lane, rule, source } = m as EdgeDecisionMessage;
 *   console.log(`lane ${lane ?? 'base'} by ${source === 'rule' ? `rule ${rule}` : 'client tag'}`);
 * });
 */
export const edgeChannels = Object.freeze({
  decision: diagnosticsChannel.channel('graylane:edge:decision'),
});

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
  /** The version of the rule set in force for this request (`ruleSetVersionOf(req)`). */
  readonly version: number;
}
