import * as diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The diagnostics channels of live rules and release plans. Messages are published only while a
 * channel has subscribers.
 *
 * | channel | message |
 * |---|---|
 * | `graylane:rules:reload` | {@link RulesReloadMessage} — a new rule set is in force |
 * | `graylane:rules:reject` | {@link RulesRejectMessage} — a rule set was rejected or a source failed; the last good set stays |
 * | `graylane:edge:plan-step` | {@link PlanStepMessage} — this process applied a plan state (step, weight, phase) |
 * | `graylane:edge:plan-abort` | {@link PlanAbortMessage} — a plan was aborted (by analysis or by `abort()`) |
 *
 * @example
 * import * as diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe(liveChannels.planAbort.name, (m) => {
 *   const { plan, reason } = m as PlanAbortMessage;
 *   console.error(`release ${plan} aborted: ${reason}`);
 * });
 */
export const liveChannels = Object.freeze({
  reload: diagnosticsChannel.channel('graylane:rules:reload'),
  reject: diagnosticsChannel.channel('graylane:rules:reject'),
  planStep: diagnosticsChannel.channel('graylane:edge:plan-step'),
  planAbort: diagnosticsChannel.channel('graylane:edge:plan-abort'),
});

/** Published on `graylane:rules:reload`. */
export interface RulesReloadMessage {
  readonly version: number;
  readonly source: string;
  readonly revision: string | undefined;
  readonly rules: number;
}

/** Published on `graylane:rules:reject`; `kind` tells a bad rule set from an unreachable source. */
export interface RulesRejectMessage {
  readonly source: string;
  readonly kind: 'invalid' | 'unavailable';
  readonly error: Error;
  /** The version still in force. */
  readonly version: number;
}

/** Published on `graylane:edge:plan-step`. */
export interface PlanStepMessage {
  readonly plan: string;
  readonly phase: string;
  readonly step: number;
  readonly weight: number;
  readonly version: number;
}

/** Published on `graylane:edge:plan-abort`. */
export interface PlanAbortMessage {
  readonly plan: string;
  readonly step: number;
  readonly reason: string;
}
