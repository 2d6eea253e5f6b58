import { assertKnownOptions, type Lane } from '@graylane/core';
import { InvalidImportError } from './errors';
import {
  checkPattern,
  headerName,
  type ImportedRule,
  type ImportStickyOption,
  laneOrBase,
  list,
  optionalBoolean,
  optionalString,
  record,
  share,
} from './import-util';
import { quoteRegex } from './regex';
import type { Condition, Rule, RuleMatch, StringMatch } from './rule';
import { describeValue, isRecord } from './validate';

const SOURCE = 'Istio';

/** Subset name -> lane; `null` is the base lane. */
export type SubsetLanes = Readonly<Record<string, Lane | null>>;

/** Options of {@link rulesFromIstioVirtualService}. */
export interface IstioVirtualServiceOptions extends ImportStickyOption {
  /**
   * The lane of each destination subset (see {@link subsetLanesFromDestinationRule}). A destination
   * without a subset is the base lane; a subset missing from the map is an error.
   */
  readonly subsetLanes: SubsetLanes;
  /**
   * Ignore match fields an application edge cannot evaluate (`gateways`, `port`, `sourceLabels`,
   * `sourceNamespace`) instead of failing. Ignoring one widens the match. Default false.
   */
  readonly ignoreUnsupported?: boolean | undefined;
}

const ISTIO_VIRTUAL_SERVICE_OPTION_KEYS: readonly string[] = Object.keys({
  sticky: 1,
  subsetLanes: 1,
  ignoreUnsupported: 1,
} satisfies Record<keyof IstioVirtualServiceOptions, 1>);

const UNSUPPORTED_MATCH = ['gateways', 'port', 'sourceLabels', 'sourceNamespace'];
// Istio ignores these keys in `headers` (they are matched by their own fields).
const IGNORED_HEADERS = new Set(['uri', 'scheme', 'method', 'authority']);
// The request pseudo-headers Envoy can match (istio/istio pkg/config/validation/validation.go
// `pseudoHeaders` also admits :status, which a request never carries).
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path']);

/**
 * Rules with the outcome of an Istio `VirtualService` (the object, or its `spec`), following the
 * Istio networking API reference:
 *
 * - `http[]` routes are tried in order; the first whose `match` holds takes the request.
 * - `match[]` entries are ORed; the fields within one are ANDed: `uri`, `method`, `authority` (Host),
 *   `scheme`, `headers`, `queryParams`, `withoutHeaders` (the header must NOT match),
 *   `ignoreUriCase`. A StringMatch is `exact`, `prefix` or `regex` (RE2, whole value); a header
 *   given as `{}` or `{ regex: "*" }` only has to be present (absent, under `withoutHeaders`);
 *   under `withoutHeaders` a missing header is compared as `""`, so `{ regex: ".*" }` never holds.
 *   Header names may be the pseudo-headers `:method`, `:authority`, `:scheme`, `:path`. `uri` is
 *   compared without the query string; `ignoreUriCase` applies to `exact` and `prefix` only.
 *   Empty values are refused where Istio's validation refuses them: an empty `regex` anywhere, an
 *   empty `prefix` except in `uri`; an empty `exact` is a match on the empty value.
 * - `route[]` destinations share the route's traffic by `weight` (weight / sum of weights; a single
 *   destination takes everything). A destination's `subset` maps to a lane through `subsetLanes`;
 *   no subset is the base lane. `headers.request` `set` / `add` / `remove` (route and destination)
 *   become the rule's header changes.
 * - A route without `route` (redirect, direct response, delegate) keeps its requests in the base lane.
 *
 * @throws {InvalidImportError} `GL_ERR_INVALID_IMPORT` naming the field, e.g.
 *   `spec.http[0].route[1].destination.subset` for a subset with no lane.
 * @example
 * rulesFromIstioVirtualService(virtualService, {
 *   subsetLanes: subsetLanesFromDestinationRule(destinationRule), // { v1: null, v2: 'gray' }
 * });
 */
export function rulesFromIstioVirtualService(
  virtualService: Readonly<Record<string, unknown>>,
  options: IstioVirtualServiceOptions,
): Rule[] {
  assertKnownOptions('rulesFromIstioVirtualService()', options, ISTIO_VIRTUAL_SERVICE_OPTION_KEYS);
  const opts = record(SOURCE, options, 'options');
  const subsetLanes = record(SOURCE, opts.subsetLanes, 'options.subsetLanes');
  const ignoreUnsupported =
    optionalBoolean(SOURCE, opts.ignoreUnsupported, 'options.ignoreUnsupported') ?? false;
  const root = record(SOURCE, virtualService, 'virtualService');
  const spec = isRecord(root.spec) ? root.spec : root;
  const at = isRecord(root.spec) ? 'spec' : 'virtualService';
  const routes = spec.http === undefined || spec.http === null ? [] : list(SOURCE, spec.http, `${at}.http`);

  const rules: Rule[] = [];
  routes.forEach((rawRoute, r) => {
    const path = `${at}.http[${r}]`;
    const route = record(SOURCE, rawRoute, path);
    const name = optionalString(SOURCE, route.name, `${path}.name`) ?? `http[${r}]`;
    let matches: RuleMatch[] | undefined;
    if (route.match !== undefined && route.match !== null) {
      const raw = list(SOURCE, route.match, `${path}.match`);
      if (raw.length > 0)
        matches = raw.map((m, i) => convertMatch(m, `${path}.match[${i}]`, ignoreUnsupported));
    }
    const routeHeaders = headerOps(route.headers, `${path}.headers`);
    const destinations =
      route.route === undefined || route.route === null ? [] : list(SOURCE, route.route, `${path}.route`);
    if (destinations.length === 0) {
      const rule: { name: string; matches?: RuleMatch[] } = { name };
      if (matches !== undefined) rule.matches = matches;
      rules.push(rule);
      return;
    }
    const weights = destinations.map((d, i) => {
      const w = record(SOURCE, d, `${path}.route[${i}]`).weight;
      if (w === undefined || w === null) return destinations.length === 1 ? 100 : 0;
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0) {
        throw new InvalidImportError(
          SOURCE,
          `${path}.route[${i}].weight`,
          `expected a non-negative integer, got ${describeValue(w)}`,
        );
      }
      return w;
    });
    let remaining = weights.reduce((a, b) => a + b, 0);
    if (remaining === 0)
      throw new InvalidImportError(SOURCE, `${path}.route`, 'every destination has weight 0');
    destinations.forEach((d, i) => {
      const weight = weights[i]!;
      if (weight === 0) return;
      const at = `${path}.route[${i}]`;
      const destination = record(SOURCE, record(SOURCE, d, at).destination, `${at}.destination`);
      const subset = optionalString(SOURCE, destination.subset, `${at}.destination.subset`);
      let lane: Lane | undefined;
      if (subset !== undefined) {
        if (!Object.hasOwn(subsetLanes, subset)) {
          throw new InvalidImportError(
            SOURCE,
            `${at}.destination.subset`,
            `subset ${JSON.stringify(subset)} has no lane in options.subsetLanes (map it to a lane, or to null for the base lane)`,
          );
        }
        lane = laneOrBase(SOURCE, subsetLanes[subset], `options.subsetLanes[${JSON.stringify(subset)}]`);
      }
      const ops = mergeOps(routeHeaders, headerOps(record(SOURCE, d, at).headers, `${at}.headers`));
      const rule: ImportedRule = { name: subset === undefined ? name : `${name} -> ${subset}` };
      if (lane !== undefined) rule.lane = lane;
      if (matches !== undefined) rule.matches = matches;
      const part = share(weight, remaining);
      if (part < 100) {
        rule.weight = part;
        if (opts.sticky !== undefined) rule.sticky = opts.sticky as Rule['sticky'];
      }
      remaining -= weight;
      if (ops.set !== undefined) rule.setHeaders = ops.set;
      if (ops.add !== undefined) rule.addHeaders = ops.add;
      if (ops.remove !== undefined) rule.removeHeaders = ops.remove;
      rules.push(rule);
    });
  });
  return rules;
}

function convertMatch(raw: unknown, path: string, ignoreUnsupported: boolean): RuleMatch {
  const m = record(SOURCE, raw, path);
  for (const field of UNSUPPORTED_MATCH) {
    if (m[field] !== undefined && m[field] !== null && !ignoreUnsupported) {
      throw new InvalidImportError(
        SOURCE,
        `${path}.${field}`,
        'cannot be evaluated at an application edge; remove it, or pass { ignoreUnsupported: true } to ignore it (which widens the match)',
      );
    }
  }
  const ignoreCase = optionalBoolean(SOURCE, m.ignoreUriCase, `${path}.ignoreUriCase`) ?? false;
  const match: {
    method?: StringMatch;
    path?: StringMatch;
    headers?: Condition[];
    queryParams?: Condition[];
  } = {};
  if (m.uri !== undefined && m.uri !== null) match.path = stringMatch(m.uri, `${path}.uri`, ignoreCase, true);
  if (m.method !== undefined && m.method !== null)
    match.method = stringMatch(m.method, `${path}.method`, false);
  const headers: Condition[] = [];
  // Istio matches these as the :authority and :scheme pseudo-headers (route.go TranslateRouteMatch).
  if (m.authority !== undefined && m.authority !== null) {
    headers.push({ name: ':authority', ...stringMatch(m.authority, `${path}.authority`, false) });
  }
  if (m.scheme !== undefined && m.scheme !== null) {
    headers.push({ name: ':scheme', ...stringMatch(m.scheme, `${path}.scheme`, false) });
  }
  for (const [field, invert] of [
    ['headers', false],
    ['withoutHeaders', true],
  ] as const) {
    const map = m[field];
    if (map === undefined || map === null) continue;
    for (const [name, value] of Object.entries(record(SOURCE, map, `${path}.${field}`))) {
      const at = `${path}.${field}.${name}`;
      const lower = name.toLowerCase();
      if (!PSEUDO_HEADERS.has(lower)) headerName(SOURCE, name, at);
      if (IGNORED_HEADERS.has(lower)) continue;
      headers.push(headerCondition(lower, value, at, invert));
    }
  }
  if (headers.length > 0) match.headers = headers;
  if (m.queryParams !== undefined && m.queryParams !== null) {
    const params: Condition[] = [];
    for (const [name, value] of Object.entries(record(SOURCE, m.queryParams, `${path}.queryParams`))) {
      const at = `${path}.queryParams.${name}`;
      // `regex: "*"` is present_match here too (route.go translateQueryParamMatch); a prefix is
      // accepted by Istio's validation (virtualservice_test.go "prefix queryParams match") and
      // becomes an Envoy prefix StringMatcher, though the API reference lists exact and regex only.
      if (isCatchAll(value) || (isRecord(value) && Object.keys(value).length === 0))
        params.push({ name, type: 'Present' });
      else params.push({ name, ...stringMatch(value, at, false) });
    }
    if (params.length > 0) match.queryParams = params;
  }
  return match;
}

function headerCondition(name: string, raw: unknown, at: string, invert: boolean): Condition {
  const value = record(SOURCE, raw, at);
  // `{}` and `regex: "*"` are Envoy present_match (route.go canBeConvertedToPresentMatch: "`*` is
  // NOT a RE2 style regex ... It will be translated as present_match").
  if (Object.keys(value).length === 0 || isCatchAll(value))
    return { name, type: invert ? 'Absent' : 'Present' };
  const sm = stringMatch(value, at, false);
  // Istio sets treat_missing_header_as_empty on withoutHeaders matchers (route.go TranslateRouteMatch).
  return invert ? { name, ...sm, invert: true, treatMissingAsEmpty: true } : { name, ...sm };
}

function isCatchAll(raw: unknown): boolean {
  return isRecord(raw) && raw.regex === '*' && Object.keys(raw).length === 1;
}

function stringMatch(
  raw: unknown,
  at: string,
  ignoreCase: boolean,
  emptyPrefix = false,
): StringMatch & { type: NonNullable<StringMatch['type']> } {
  const m = record(SOURCE, raw, at);
  const kinds = ['exact', 'prefix', 'regex'].filter((k) => m[k] !== undefined && m[k] !== null);
  const unknown = Object.keys(m).filter((k) => !['exact', 'prefix', 'regex'].includes(k));
  if (unknown.length > 0)
    throw new InvalidImportError(SOURCE, `${at}.${unknown[0]}`, 'expected exact, prefix or regex');
  if (kinds.length !== 1)
    throw new InvalidImportError(SOURCE, at, 'expected exactly one of exact, prefix, regex');
  const kind = kinds[0]!;
  const value = optionalString(SOURCE, m[kind], `${at}.${kind}`)!;
  // istio/istio pkg/config/validation/validation.go validateStringMatch and virtualservice.go
  // validateHTTPRouteMatchRequest: an empty regex is refused everywhere, an empty prefix everywhere
  // but in `uri` (Envoy's RouteMatch.prefix may be empty), an empty exact nowhere.
  if (value.length === 0 && (kind === 'regex' || (kind === 'prefix' && !emptyPrefix))) {
    throw new InvalidImportError(SOURCE, `${at}.${kind}`, `${kind} string match should not be empty`);
  }
  if (kind === 'regex') {
    // "The case will be ignored only in the case of exact and prefix URI matches."
    return { type: 'RegularExpression', value: checkPattern(SOURCE, value, `${at}.regex`) };
  }
  if (ignoreCase) {
    return {
      type: 'RegularExpression',
      value: `(?i:${quoteRegex(value)})${kind === 'prefix' ? '(?s:.*)' : ''}`,
    };
  }
  return { type: kind === 'exact' ? 'Exact' : 'Prefix', value };
}

interface HeaderOps {
  readonly set?: Record<string, string>;
  readonly add?: Record<string, string>;
  readonly remove?: string[];
}

function headerOps(raw: unknown, at: string): HeaderOps {
  if (raw === undefined || raw === null) return {};
  const headers = record(SOURCE, raw, at);
  if (headers.request === undefined || headers.request === null) return {};
  const request = record(SOURCE, headers.request, `${at}.request`);
  const ops: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } = {};
  for (const kind of ['set', 'add'] as const) {
    const map = request[kind];
    if (map === undefined || map === null) continue;
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(record(SOURCE, map, `${at}.request.${kind}`))) {
      headerName(SOURCE, name, `${at}.request.${kind}.${name}`);
      out[name.toLowerCase()] = optionalString(SOURCE, value, `${at}.request.${kind}.${name}`) ?? '';
    }
    ops[kind] = out;
  }
  if (request.remove !== undefined && request.remove !== null) {
    ops.remove = list(SOURCE, request.remove, `${at}.request.remove`).map((name, i) =>
      headerName(SOURCE, name, `${at}.request.remove[${i}]`).toLowerCase(),
    );
  }
  return ops;
}

function mergeOps(route: HeaderOps, destination: HeaderOps): HeaderOps {
  const set =
    route.set === undefined && destination.set === undefined
      ? undefined
      : { ...route.set, ...destination.set };
  const add =
    route.add === undefined && destination.add === undefined
      ? undefined
      : { ...route.add, ...destination.add };
  const remove =
    route.remove === undefined && destination.remove === undefined
      ? undefined
      : [...new Set([...(route.remove ?? []), ...(destination.remove ?? [])])];
  const out: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } = {};
  if (set !== undefined) out.set = set;
  if (add !== undefined) out.add = add;
  if (remove !== undefined) out.remove = remove;
  return out;
}
