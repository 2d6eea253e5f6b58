import { InvalidPlanError } from './errors';
import type { AnalysisOptions, CompiledAnalysis } from './lane-analysis';
import type { RuleMatch } from './rule';
import { describeValue, isRecord } from './validate';

/**
 * A header match of `setHeaderRoute`, as in Argo Rollouts: `headerValue` holds exactly one of
 * `exact`, `prefix`, `regex` (RE2, whole value).
 */
export interface HeaderRouteMatch {
  readonly headerName: string;
  readonly headerValue: { readonly exact?: string; readonly prefix?: string; readonly regex?: string };
}

/**
 * One step of a release plan, with Argo Rollouts' semantics:
 *
 * | step | effect |
 * |---|---|
 * | `{ setWeight: 20 }` | the lane takes 20% of the matching traffic (sticky when the plan has `sticky`) |
 * | `{ pause: {} }` | wait until `promote()` |
 * | `{ pause: { duration: 30 } }` | wait 30 s (a number is seconds; or `'500ms'`, `'30s'`, `'5m'`, `'1h'`) |
 * | `{ setHeaderRoute: { name, match: [...] } }` | requests matching ALL of `match` enter the lane whatever the weight; without `match`, removes the route `name` |
 * | `{ analysis: { ... } }` | wait until the lane's figures pass (then go on) or breach (then abort) |
 */
export type PlanStep =
  | { readonly setWeight: number }
  | { readonly pause: { readonly duration?: number | string } }
  | { readonly setHeaderRoute: { readonly name: string; readonly match?: readonly HeaderRouteMatch[] } }
  | { readonly analysis: AnalysisOptions };

/** @internal A validated step. */
export type CompiledStep =
  | { readonly type: 'setWeight'; readonly weight: number }
  | { readonly type: 'pause'; readonly durationMs: number | null }
  | { readonly type: 'setHeaderRoute'; readonly name: string; readonly match: RuleMatch | null }
  | { readonly type: 'analysis'; readonly analysis: CompiledAnalysis };

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses an Argo-style duration: a number of seconds, or `'<n>ms|s|m|h'`. Returns ms. */
export function parseDuration(raw: unknown, path: string): number {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw * 1000;
  if (typeof raw === 'string') {
    const m = DURATION.exec(raw);
    if (m) return Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  throw new InvalidPlanError(
    path,
    `expected seconds or a duration like '30s', '5m', '500ms', got ${describeValue(raw)}`,
  );
}

/** @internal Validates the steps once, at setup. */
export function compileSteps(
  raw: unknown,
  compileAnalysis: (raw: unknown, path: string) => CompiledAnalysis,
): CompiledStep[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new InvalidPlanError('steps', 'expected a non-empty array of steps');
  return raw.map((step: unknown, i): CompiledStep => {
    const path = `steps[${i}]`;
    if (!isRecord(step) || Object.keys(step).length !== 1) {
      throw new InvalidPlanError(path, 'expected exactly one of setWeight, pause, setHeaderRoute, analysis');
    }
    if ('setWeight' in step) {
      const w = step.setWeight;
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 100) {
        throw new InvalidPlanError(
          `${path}.setWeight`,
          `expected a number from 0 to 100, got ${describeValue(w)}`,
        );
      }
      return { type: 'setWeight', weight: w };
    }
    if ('pause' in step) {
      const p = step.pause ?? {};
      if (!isRecord(p)) throw new InvalidPlanError(`${path}.pause`, 'expected {} or { duration }');
      for (const key of Object.keys(p)) {
        if (key !== 'duration')
          throw new InvalidPlanError(`${path}.pause.${key}`, 'unknown field; expected duration');
      }
      return {
        type: 'pause',
        durationMs: p.duration === undefined ? null : parseDuration(p.duration, `${path}.pause.duration`),
      };
    }
    if ('setHeaderRoute' in step) return compileHeaderRoute(step.setHeaderRoute, `${path}.setHeaderRoute`);
    if ('analysis' in step)
      return { type: 'analysis', analysis: compileAnalysis(step.analysis, `${path}.analysis`) };
    throw new InvalidPlanError(
      `${path}.${Object.keys(step)[0]}`,
      'unknown step; expected setWeight, pause, setHeaderRoute, analysis',
    );
  });
}

function compileHeaderRoute(raw: unknown, path: string): CompiledStep {
  if (!isRecord(raw) || typeof raw.name !== 'string' || raw.name.length === 0) {
    throw new InvalidPlanError(`${path}.name`, 'expected { name, match? }');
  }
  if (raw.match === undefined) return { type: 'setHeaderRoute', name: raw.name, match: null };
  if (!Array.isArray(raw.match) || raw.match.length === 0) {
    throw new InvalidPlanError(`${path}.match`, 'expected a non-empty array of { headerName, headerValue }');
  }
  const headers = raw.match.map((m: unknown, i) => {
    const at = `${path}.match[${i}]`;
    if (!isRecord(m) || typeof m.headerName !== 'string' || !isRecord(m.headerValue)) {
      throw new InvalidPlanError(at, 'expected { headerName, headerValue: { exact | prefix | regex } }');
    }
    const kinds = Object.keys(m.headerValue);
    const kind = kinds[0];
    if (kinds.length !== 1 || (kind !== 'exact' && kind !== 'prefix' && kind !== 'regex')) {
      throw new InvalidPlanError(`${at}.headerValue`, 'expected exactly one of exact, prefix, regex');
    }
    const value = m.headerValue[kind];
    if (typeof value !== 'string')
      throw new InvalidPlanError(`${at}.headerValue.${kind}`, 'expected a string');
    const type = kind === 'exact' ? 'Exact' : kind === 'prefix' ? 'Prefix' : 'RegularExpression';
    return { name: m.headerName, type, value } as const;
  });
  return { type: 'setHeaderRoute', name: raw.name, match: { headers } };
}
