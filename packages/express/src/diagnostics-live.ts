// Live rules and release plans on the diagnostics page: kept in this file (and
// internal/diagnostics-live-html.ts) so the report's other sections stay independent of them.
import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import type { CompiledRules, LaneFigures, LiveRulesStatus, PlanStatus } from '@graylane/rules';

/** A live rule set as the page reads it: a `liveRules()` result fits. */
export interface DiagnosticsLiveRules {
  readonly current: { readonly rules: CompiledRules };
  status(): LiveRulesStatus;
}

/** A release plan as the page reads it: a `releasePlan()` result fits. */
export interface DiagnosticsPlan {
  readonly current: { readonly rules: CompiledRules };
  status(): PlanStatus;
}

/** What the live section of the report reads. */
export interface DiagnosticsLiveOptions {
  /** Rule sets that change at run time (`liveRules()`). Default: none. */
  readonly rules?: DiagnosticsLiveRules | readonly DiagnosticsLiveRules[] | undefined;
  /** Release plans (`releasePlan()`). Default: none. */
  readonly plans?: DiagnosticsPlan | readonly DiagnosticsPlan[] | undefined;
}

const DIAGNOSTICS_LIVE_OPTION_KEYS: readonly string[] = Object.keys({
  rules: 1,
  plans: 1,
} satisfies Record<keyof DiagnosticsLiveOptions, 1>);

/** One live rule set on the page. */
export interface LiveRulesRow {
  readonly source: string;
  readonly version: number;
  readonly revision: string | null;
  readonly rules: number;
  readonly lastReloadAt: string;
  readonly reloads: number;
  readonly rejected: number;
  readonly sourceErrors: number;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

/** One release plan on the page. */
export interface PlanRow {
  readonly name: string;
  readonly lane: string;
  readonly store: string;
  readonly phase: string;
  /** `3/7`. */
  readonly step: string;
  readonly currentStep: string | null;
  readonly weight: number;
  readonly headerRoutes: readonly string[];
  readonly version: number;
  readonly abortReason: string | null;
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
  readonly analysis: {
    readonly lane: LaneFigures;
    readonly base: LaneFigures;
    readonly runLane: LaneFigures;
    readonly runBase: LaneFigures;
    readonly verdict: string | null;
  };
  readonly lastError: string | null;
}

/** The `live` section of the report. */
export interface LiveReport {
  readonly rules: readonly LiveRulesRow[];
  readonly plans: readonly PlanRow[];
}

/** @internal Compiled `live` option. */
export interface CompiledLiveOptions {
  readonly rules: readonly DiagnosticsLiveRules[];
  readonly plans: readonly DiagnosticsPlan[];
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] {
  return value === undefined ? [] : Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** @internal Validates the `live` option at setup. */
export function compileLiveOptions(options: DiagnosticsLiveOptions | undefined): CompiledLiveOptions | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('live', 'expected { rules?, plans? }');
  assertKnownOptions('diagnosticsReport()', options, DIAGNOSTICS_LIVE_OPTION_KEYS, 'live');
  const rules = list(options.rules);
  const plans = list(options.plans);
  for (const item of [...rules, ...plans]) {
    if (typeof (item as { status?: unknown })?.status !== 'function') {
      throw new InvalidOptionError('live', 'expected liveRules() and releasePlan() results');
    }
  }
  return { rules, plans };
}

/** @internal The rule set to show in the rules table when none was given: the first live one. */
export function liveRulesTable(live: CompiledLiveOptions | null): CompiledRules | undefined {
  return live?.rules[0]?.current.rules ?? live?.plans[0]?.current.rules;
}

/** @internal Builds the live section. */
export function buildLiveReport(live: CompiledLiveOptions): LiveReport {
  return {
    rules: live.rules.map((r) => {
      const s = r.status();
      return {
        source: s.source,
        version: s.version,
        revision: s.revision ?? null,
        rules: s.rules,
        lastReloadAt: s.lastReloadAt,
        reloads: s.reloads,
        rejected: s.rejected,
        sourceErrors: s.sourceErrors,
        lastError: s.lastError === null ? null : `${s.lastError.code ?? 'error'}: ${s.lastError.message}`,
        lastErrorAt: s.lastError?.at ?? null,
      };
    }),
    plans: live.plans.map((p) => {
      const s = p.status();
      return {
        name: s.name,
        lane: s.lane,
        store: s.store,
        phase: s.phase,
        step: `${Math.min(s.step + 1, s.steps)}/${s.steps}`,
        currentStep: s.currentStep,
        weight: s.weight,
        headerRoutes: s.headerRoutes,
        version: s.version,
        abortReason: s.abortReason,
        updatedAt: s.updatedAt,
        updatedBy: s.updatedBy,
        analysis: {
          lane: s.analysis.lane,
          base: s.analysis.base,
          runLane: s.analysis.runLane,
          runBase: s.analysis.runBase,
          verdict:
            s.analysis.verdict === null ? null : `${s.analysis.verdict.result}: ${s.analysis.verdict.reason}`,
        },
        lastError: s.lastError,
      };
    }),
  };
}
