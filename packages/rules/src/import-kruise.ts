import { assertKnownOptions, LANE_HEADER, type Lane } from '@graylane/core';
import { InvalidImportError } from './errors';
import { rulesFromNginxCanary } from './import-nginx';
import {
  checkPattern,
  headerName,
  type ImportedRule,
  type ImportStickyOption,
  laneOrBase,
  list,
  optionalString,
  record,
} from './import-util';
import { quoteRegex } from './regex';
import type { Condition, Rule, RuleMatch, StringMatch } from './rule';
import { describeValue, isRecord } from './validate';

const SOURCE = 'OpenKruise';

/** Options of {@link rulesFromKruiseTrafficRouting}. */
export interface KruiseTrafficRoutingOptions extends ImportStickyOption {
  /**
   * The canary lane. Default: the value `requestHeaderModifier.set` gives the lane header
   * (`x-mse-tag: gray` -> `gray`), as in the OpenKruise full-link gray example.
   */
  readonly lane?: Lane | undefined;
  /** The lane header. Default `x-mse-tag`. */
  readonly laneHeader?: string | undefined;
  /** For a `Rollout`: the index of the canary step to import. Required for a Rollout. */
  readonly step?: number | undefined;
  /**
   * The traffic provider that carries out the strategy. `'ingress-nginx'`: Kruise writes
   * ingress-nginx canary annotations (its `trafficrouting_ingress/nginx.lua`), so a header named
   * `canary-by-cookie` names a cookie that must carry `always`, only the first header of each match
   * counts (the last match wins), and the rest of a match is ignored, as there. `'gateway'`: the
   * matches as Gateway API matches. Default: `'ingress-nginx'` when the object references an
   * Ingress whose `classType` is `nginx` or unset (Kruise's default), else `'gateway'`.
   */
  readonly provider?: 'ingress-nginx' | 'gateway' | undefined;
}

const KRUISE_TRAFFIC_ROUTING_OPTION_KEYS: readonly string[] = Object.keys({
  sticky: 1,
  lane: 1,
  laneHeader: 1,
  step: 1,
  provider: 1,
} satisfies Record<keyof KruiseTrafficRoutingOptions, 1>);

/**
 * Rules with the outcome of an OpenKruise traffic-routing strategy: a `TrafficRouting` object
 * (`spec.strategy`), a `Rollout` with `options.step` (`spec.strategy.canary.steps[step]`), or the
 * strategy / step object itself. Followed from the Kruise Rollout API (`TrafficRoutingStrategy`):
 *
 * - `matches`: each match is independent (OR); within a match, `headers`, `queryParams` and `path`
 *   all hold (AND). Header and query types `Exact` (default) / `RegularExpression`; path types
 *   `PathPrefix` (default; whole path segments), `Exact`, `RegularExpression`.
 * - `weight` (v1alpha1) or `traffic: "20%"` (v1beta1): that share enters at random. When both
 *   matches and a weight are given, matches take precedence and the weight is ignored.
 * - `requestHeaderModifier` `set` / `add` / `remove` become the rule's header changes.
 *
 * Neither matches nor a weight: no rule (nothing enters the canary).
 *
 * With the ingress-nginx provider (see `options.provider`), the matches become the canary
 * annotations Kruise's `nginx.lua` writes and then decide as {@link rulesFromNginxCanary}: the
 * `canary-by-cookie` convention (`{ name: 'canary-by-cookie', value: 'c' }` means cookie `c` must
 * be `always`), `canary-by-header` / `-value` / `-pattern` from the first header of each match.
 *
 * @throws {InvalidImportError} `GL_ERR_INVALID_IMPORT` naming the field (unknown match type, bad
 *   regular expression, weight out of range, no lane).
 * @example
 * rulesFromKruiseTrafficRouting({ spec: { strategy: {
 *   matches: [{ headers: [{ type: 'Exact', name: 'User-Agent', value: 'foo' }] }],
 *   requestHeaderModifier: { set: [{ name: 'x-mse-tag', value: 'gray' }] },
 * } } });
 * // [{ lane: 'gray', matches: [...], setHeaders: { 'x-mse-tag': 'gray' } }]
 */
export function rulesFromKruiseTrafficRouting(
  trafficRouting: Readonly<Record<string, unknown>>,
  options: KruiseTrafficRoutingOptions = {},
): Rule[] {
  assertKnownOptions('rulesFromKruiseTrafficRouting()', options, KRUISE_TRAFFIC_ROUTING_OPTION_KEYS);
  const opts = record(SOURCE, options, 'options');
  const { strategy, at } = locateStrategy(record(SOURCE, trafficRouting, 'trafficRouting'), opts.step);
  const laneHeader = headerName(SOURCE, opts.laneHeader ?? LANE_HEADER, 'options.laneHeader').toLowerCase();

  const modifier = strategy.requestHeaderModifier;
  let setHeaders: Record<string, string> | undefined;
  let addHeaders: Record<string, string> | undefined;
  let removeHeaders: string[] | undefined;
  if (modifier !== undefined && modifier !== null) {
    const m = record(SOURCE, modifier, `${at}.requestHeaderModifier`);
    setHeaders = headerPairs(m.set, `${at}.requestHeaderModifier.set`);
    addHeaders = headerPairs(m.add, `${at}.requestHeaderModifier.add`);
    if (m.remove !== undefined && m.remove !== null) {
      removeHeaders = list(SOURCE, m.remove, `${at}.requestHeaderModifier.remove`).map((name, i) =>
        headerName(SOURCE, name, `${at}.requestHeaderModifier.remove[${i}]`),
      );
    }
  }
  let lane = laneOrBase(SOURCE, opts.lane, 'options.lane');
  if (lane === undefined) {
    const fromHeader = setHeaders?.[laneHeader];
    lane = laneOrBase(SOURCE, fromHeader, `${at}.requestHeaderModifier.set`);
    if (lane === undefined) {
      throw new InvalidImportError(
        SOURCE,
        'options.lane',
        `no lane: pass options.lane, or set ${laneHeader} in requestHeaderModifier.set`,
      );
    }
  }

  const rule: ImportedRule = { lane, name: 'kruise canary' };
  if (setHeaders !== undefined) rule.setHeaders = setHeaders;
  if (addHeaders !== undefined) rule.addHeaders = addHeaders;
  if (removeHeaders !== undefined) rule.removeHeaders = removeHeaders;

  const matches = strategy.matches;
  const provider = opts.provider ?? detectProvider(trafficRouting);
  if (provider !== 'ingress-nginx' && provider !== 'gateway') {
    throw new InvalidImportError(
      SOURCE,
      'options.provider',
      `expected "ingress-nginx" or "gateway", got ${describeValue(provider)}`,
    );
  }
  if (matches !== undefined && matches !== null && list(SOURCE, matches, `${at}.matches`).length > 0) {
    if (provider === 'ingress-nginx') return viaNginx(matches as unknown[], `${at}.matches`, rule);
    rule.matches = (matches as unknown[]).map((match, i) => convertMatch(match, `${at}.matches[${i}]`));
    return [rule];
  }
  const weight = readWeight(strategy, at);
  if (weight === undefined || weight === 0) return [];
  rule.weight = weight;
  if (opts.sticky !== undefined) rule.sticky = opts.sticky as Rule['sticky'];
  return [rule];
}

// Kruise picks the ingress provider's Lua by `classType`, "nginx" when unset
// (pkg/trafficrouting/network/ingress/nginx.go getTrafficRoutingIngressLuaScript).
function detectProvider(root: unknown): 'ingress-nginx' | 'gateway' {
  if (!isRecord(root) || !isRecord(root.spec)) return 'gateway';
  const spec = root.spec;
  const refs: unknown[] = [];
  if (Array.isArray(spec.objectRef)) refs.push(...spec.objectRef);
  const canary = isRecord(spec.strategy) && isRecord(spec.strategy.canary) ? spec.strategy.canary : undefined;
  if (canary !== undefined && Array.isArray(canary.trafficRoutings)) refs.push(...canary.trafficRoutings);
  for (const ref of refs) {
    if (!isRecord(ref) || !isRecord(ref.ingress)) continue;
    const classType = ref.ingress.classType;
    if (classType === undefined || classType === null || classType === '' || classType === 'nginx')
      return 'ingress-nginx';
  }
  return 'gateway';
}

// openkruise/rollouts lua_configuration/trafficrouting_ingress/nginx.lua: for each match, its first
// header only: a header named "canary-by-cookie" sets canary-by-cookie to the header's value, any
// other sets canary-by-header, and canary-by-header-pattern (RegularExpression) or
// canary-by-header-value; a later match overwrites an earlier one. The weight is not used here:
// matches take precedence, as for the other providers.
function viaNginx(matches: readonly unknown[], at: string, base: ImportedRule): Rule[] {
  const annotations: Record<string, string> = { 'nginx.ingress.kubernetes.io/canary': 'true' };
  matches.forEach((raw, i) => {
    const match = record(SOURCE, raw, `${at}[${i}]`);
    if (match.headers === undefined || match.headers === null) return;
    const headers = list(SOURCE, match.headers, `${at}[${i}].headers`);
    if (headers.length === 0) return;
    const header = record(SOURCE, headers[0], `${at}[${i}].headers[0]`);
    const name = optionalString(SOURCE, header.name, `${at}[${i}].headers[0].name`) ?? '';
    const value = optionalString(SOURCE, header.value, `${at}[${i}].headers[0].value`) ?? '';
    if (name === 'canary-by-cookie') {
      annotations['nginx.ingress.kubernetes.io/canary-by-cookie'] = value;
      return;
    }
    annotations['nginx.ingress.kubernetes.io/canary-by-header'] = name;
    delete annotations['nginx.ingress.kubernetes.io/canary-by-header-pattern'];
    delete annotations['nginx.ingress.kubernetes.io/canary-by-header-value'];
    const kind = header.type === 'RegularExpression' ? 'pattern' : 'value';
    annotations[`nginx.ingress.kubernetes.io/canary-by-header-${kind}`] = value;
  });
  const rules = rulesFromNginxCanary(annotations, { lane: base.lane! });
  return rules.map((rule) => {
    if (rule.lane === undefined) return rule;
    const out: ImportedRule = { ...(rule as ImportedRule), name: `kruise canary (${rule.name})` };
    if (base.setHeaders !== undefined) out.setHeaders = base.setHeaders;
    if (base.addHeaders !== undefined) out.addHeaders = base.addHeaders;
    if (base.removeHeaders !== undefined) out.removeHeaders = base.removeHeaders;
    return out;
  });
}

function locateStrategy(
  root: Readonly<Record<string, unknown>>,
  step: unknown,
): { strategy: Readonly<Record<string, unknown>>; at: string } {
  const spec = isRecord(root.spec) ? root.spec : undefined;
  const rolloutStrategy = spec !== undefined && isRecord(spec.strategy) ? spec.strategy : undefined;
  if (root.kind === 'Rollout' || (rolloutStrategy !== undefined && isRecord(rolloutStrategy.canary))) {
    const canary = record(SOURCE, rolloutStrategy?.canary, 'spec.strategy.canary');
    const steps = list(SOURCE, canary.steps, 'spec.strategy.canary.steps');
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step >= steps.length) {
      throw new InvalidImportError(
        SOURCE,
        'options.step',
        `a Rollout needs the index of a canary step (0..${steps.length - 1})`,
      );
    }
    const at = `spec.strategy.canary.steps[${step}]`;
    return { strategy: record(SOURCE, steps[step], at), at };
  }
  if (spec !== undefined)
    return { strategy: record(SOURCE, spec.strategy, 'spec.strategy'), at: 'spec.strategy' };
  if (isRecord(root.strategy)) return { strategy: root.strategy, at: 'strategy' };
  return { strategy: root, at: 'strategy' };
}

function readWeight(strategy: Readonly<Record<string, unknown>>, at: string): number | undefined {
  const traffic = strategy.traffic;
  if (traffic !== undefined && traffic !== null) {
    const match = typeof traffic === 'string' ? /^(\d{1,3})%$/.exec(traffic) : null;
    const value = match === null ? Number.NaN : Number(match[1]);
    if (!(value >= 0 && value <= 100)) {
      throw new InvalidImportError(
        SOURCE,
        `${at}.traffic`,
        `expected a percentage like "20%", got ${describeValue(traffic)}`,
      );
    }
    return value;
  }
  const weight = strategy.weight;
  if (weight === undefined || weight === null) return undefined;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new InvalidImportError(
      SOURCE,
      `${at}.weight`,
      `expected an integer from 0 to 100, got ${describeValue(weight)}`,
    );
  }
  return weight;
}

function headerPairs(raw: unknown, path: string): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const out: Record<string, string> = {};
  list(SOURCE, raw, path).forEach((pair, i) => {
    const p = record(SOURCE, pair, `${path}[${i}]`);
    const name = headerName(SOURCE, p.name, `${path}[${i}].name`).toLowerCase();
    const value = optionalString(SOURCE, p.value, `${path}[${i}].value`) ?? '';
    out[name] = value;
  });
  return out;
}

function convertMatch(raw: unknown, path: string): RuleMatch {
  const m = record(SOURCE, raw, path);
  const match: { path?: StringMatch; headers?: Condition[]; queryParams?: Condition[] } = {};
  if (m.headers !== undefined && m.headers !== null) {
    match.headers = list(SOURCE, m.headers, `${path}.headers`).map((h, i) => {
      const at = `${path}.headers[${i}]`;
      const header = record(SOURCE, h, at);
      return valueMatch(header, headerName(SOURCE, header.name, `${at}.name`), at);
    });
  }
  if (m.queryParams !== undefined && m.queryParams !== null) {
    match.queryParams = list(SOURCE, m.queryParams, `${path}.queryParams`).map((q, i) => {
      const at = `${path}.queryParams[${i}]`;
      const param = record(SOURCE, q, at);
      const name = optionalString(SOURCE, param.name, `${at}.name`);
      if (name === undefined || name.length === 0)
        throw new InvalidImportError(SOURCE, `${at}.name`, 'a query parameter name is required');
      return valueMatch(param, name, at);
    });
  }
  if (m.path !== undefined && m.path !== null) {
    const converted = pathMatch(record(SOURCE, m.path, `${path}.path`), `${path}.path`);
    if (converted !== undefined) match.path = converted;
  }
  return match;
}

function valueMatch(raw: Readonly<Record<string, unknown>>, name: string, at: string): Condition {
  const type = raw.type ?? 'Exact';
  const value = optionalString(SOURCE, raw.value, `${at}.value`) ?? '';
  if (type === 'Exact') return { name, type: 'Exact', value };
  if (type === 'RegularExpression') {
    return { name, type: 'RegularExpression', value: checkPattern(SOURCE, value, `${at}.value`) };
  }
  throw new InvalidImportError(
    SOURCE,
    `${at}.type`,
    `expected Exact or RegularExpression, got ${describeValue(type)}`,
  );
}

// Gateway API HTTPPathMatch. PathPrefix matches whole segments: `/foo` matches `/foo` and
// `/foo/bar`, not `/foobar`; a trailing slash in the prefix is ignored.
function pathMatch(raw: Readonly<Record<string, unknown>>, at: string): StringMatch | undefined {
  const type = raw.type ?? 'PathPrefix';
  const value = optionalString(SOURCE, raw.value, `${at}.value`) ?? '/';
  if (type === 'Exact') return { type: 'Exact', value };
  if (type === 'RegularExpression')
    return { type: 'RegularExpression', value: checkPattern(SOURCE, value, `${at}.value`) };
  if (type !== 'PathPrefix') {
    throw new InvalidImportError(
      SOURCE,
      `${at}.type`,
      `expected PathPrefix, Exact or RegularExpression, got ${describeValue(type)}`,
    );
  }
  if (!value.startsWith('/'))
    throw new InvalidImportError(SOURCE, `${at}.value`, 'a path prefix starts with /');
  const trimmed = value.replace(/\/+$/, '');
  if (trimmed.length === 0) return undefined; // "/" matches every path
  return { type: 'RegularExpression', value: `${quoteRegex(trimmed)}(?:/.*)?` };
}
