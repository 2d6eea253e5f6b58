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

const SOURCE = 'Ambassador';

/** The fields of an Ambassador / Emissary `Mapping` spec that decide routing. */
export interface AmbassadorMappingSpec {
  readonly name?: string;
  readonly prefix: string;
  readonly service?: string;
  readonly weight?: number;
  readonly [field: string]: unknown;
}

/** Options of {@link rulesFromAmbassadorMappings}. */
export interface AmbassadorMappingsOptions extends ImportStickyOption {
  /**
   * The lane of each Mapping's backend: a function of the Mapping (its spec, plus `name`), or a
   * record from `service` to lane. `undefined`/`null`/missing means the base lane.
   */
  readonly laneOf:
    | ((mapping: AmbassadorMappingSpec) => Lane | null | undefined)
    | Readonly<Record<string, Lane | null>>;
}

const AMBASSADOR_MAPPINGS_OPTION_KEYS: readonly string[] = Object.keys({
  sticky: 1,
  laneOf: 1,
} satisfies Record<keyof AmbassadorMappingsOptions, 1>);

interface Header {
  readonly name: string;
  readonly value: string | undefined;
  readonly regex: boolean;
}

interface Mapping {
  readonly index: number;
  readonly spec: AmbassadorMappingSpec;
  readonly lane: Lane | undefined;
  readonly weight: number | undefined;
  readonly group: string;
  readonly routeWeight: ReadonlyArray<number | string>;
  readonly match: RuleMatch;
}

const IGNORED_KINDS = new Set(['Mapping', 'AmbassadorMapping']);

/**
 * Rules with the outcome of a set of Ambassador / Emissary `Mapping`s (the objects, or their
 * `spec`s). Followed from the Emissary documentation and its IR code:
 *
 * - Mappings with the same match (method, prefix, headers, regex_headers, host, query parameters,
 *   precedence) form a group that shares its traffic by `weight` (integer percent); mappings
 *   without a weight split what is left, and a group's weights always add up to 100% ("a single
 *   mapping is guaranteed to receive 100% of the traffic no matter whether it's assigned a weight").
 * - Groups are tried most constrained first: higher `precedence`, then a longer prefix, then more
 *   header constraints (the total length of names and values), then more query constraints.
 * - `headers: { name: value }` is an exact match, `true` a presence match; `regex_headers` is a
 *   whole-value RE2 match; `host` matches the Host header; `prefix_regex` / `prefix_exact` change
 *   the path match; `case_sensitive: false` makes it case-insensitive.
 * - `shadow` Mappings receive copies only and are skipped.
 *
 * @throws {InvalidImportError} `GL_ERR_INVALID_IMPORT` naming the field: no prefix, a weight that
 *   is not an integer in 0..100, a group over 100, a bad regex, an unsupported field.
 * @example
 * rulesFromAmbassadorMappings([
 *   { spec: { prefix: '/app/', service: 'app' } },
 *   { spec: { prefix: '/app/', service: 'app-v2', weight: 20 } },
 *   { spec: { prefix: '/app/', service: 'app-v2', headers: { Cookie: 'UM_distinctid=12345' } } },
 * ], { laneOf: { 'app-v2': 'gray' } });
 */
export function rulesFromAmbassadorMappings(
  mappings: readonly unknown[],
  options: AmbassadorMappingsOptions,
): Rule[] {
  assertKnownOptions('rulesFromAmbassadorMappings()', options, AMBASSADOR_MAPPINGS_OPTION_KEYS);
  const opts = record(SOURCE, options, 'options');
  const laneOf = opts.laneOf;
  if (typeof laneOf !== 'function' && !isRecord(laneOf)) {
    throw new InvalidImportError(
      SOURCE,
      'options.laneOf',
      'expected a function or a record of service -> lane',
    );
  }
  const parsed: Mapping[] = [];
  list(SOURCE, mappings, 'mappings').forEach((raw, i) => {
    const mapping = parseMapping(raw, i, laneOf as AmbassadorMappingsOptions['laneOf']);
    if (mapping !== undefined) parsed.push(mapping);
  });

  const groups = new Map<string, Mapping[]>();
  for (const mapping of parsed) {
    const group = groups.get(mapping.group);
    if (group === undefined) groups.set(mapping.group, [mapping]);
    else group.push(mapping);
  }
  // Most constrained first; Array#sort is stable, so equal groups keep the order they were given.
  const ordered = [...groups.values()].sort((a, b) =>
    compareRouteWeights(b[0]!.routeWeight, a[0]!.routeWeight),
  );

  const rules: Rule[] = [];
  for (const group of ordered) {
    let remaining = 100;
    for (const { mapping, part } of normalizeGroup(group)) {
      if (part <= 0) continue;
      const rule: ImportedRule = { name: mapping.spec.name ?? `mappings[${mapping.index}]` };
      if (mapping.lane !== undefined) rule.lane = mapping.lane;
      if (Object.keys(mapping.match).length > 0) rule.matches = [mapping.match];
      const weight = share(part, remaining);
      if (weight < 100) {
        rule.weight = weight;
        if (opts.sticky !== undefined) rule.sticky = opts.sticky as Rule['sticky'];
      }
      remaining -= part;
      rules.push(rule);
    }
  }
  return rules;
}

// normalize_weights_in_mappings: weighted mappings first, in order, each with its weight; then the
// weightless ones, each with round(rest / count) and the last one up to 100. With no weightless
// mapping the documented 100% total is reached by scaling the weights.
function normalizeGroup(group: readonly Mapping[]): Array<{ mapping: Mapping; part: number }> {
  const weighted = group.filter((m) => m.weight !== undefined);
  const weightless = group.filter((m) => m.weight === undefined);
  const total = weighted.reduce((sum, m) => sum + m.weight!, 0);
  if (total > 100) {
    const first = group[0]!;
    throw new InvalidImportError(
      SOURCE,
      `mappings[${first.index}]`,
      `the weights of the mappings for prefix ${first.spec.prefix} add up to ${total}, over 100`,
    );
  }
  if (weightless.length === 0) {
    return weighted.map((mapping) => ({ mapping, part: total === 0 ? 0 : (mapping.weight! * 100) / total }));
  }
  const each = roundHalfEven((100 - total) / weightless.length);
  const parts = weighted.map((mapping) => ({ mapping, part: mapping.weight! }));
  let given = total;
  weightless.forEach((mapping, k) => {
    const part = k === weightless.length - 1 ? 100 - given : Math.min(each, 100 - given);
    given += part;
    parts.push({ mapping, part });
  });
  return parts;
}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// Fields that change where a request goes, beyond what lanes express.
const UNSUPPORTED = [
  'host_redirect',
  'path_redirect',
  'prefix_redirect',
  'regex_redirect',
  'prefix_regex_redirect',
];

function parseMapping(
  raw: unknown,
  index: number,
  laneOf: AmbassadorMappingsOptions['laneOf'],
): Mapping | undefined {
  const root = record(SOURCE, raw, `mappings[${index}]`);
  const isObject = isRecord(root.spec);
  if (isObject && root.kind !== undefined && !IGNORED_KINDS.has(root.kind as string)) {
    throw new InvalidImportError(
      SOURCE,
      `mappings[${index}].kind`,
      `expected a Mapping, got ${describeValue(root.kind)}`,
    );
  }
  const spec = isObject ? (root.spec as Readonly<Record<string, unknown>>) : root;
  const at = isObject ? `mappings[${index}].spec` : `mappings[${index}]`;
  const metadata = isRecord(root.metadata) ? root.metadata : undefined;
  const name = optionalString(SOURCE, metadata?.name ?? spec.name, `${at}.name`);
  for (const field of UNSUPPORTED) {
    if (spec[field] !== undefined && spec[field] !== false) {
      throw new InvalidImportError(
        SOURCE,
        `${at}.${field}`,
        'redirect mappings are not supported by the lane importer',
      );
    }
  }
  if (optionalBoolean(SOURCE, spec.shadow, `${at}.shadow`) === true) return undefined;

  const prefix = optionalString(SOURCE, spec.prefix, `${at}.prefix`);
  if (prefix === undefined) throw new InvalidImportError(SOURCE, `${at}.prefix`, 'a Mapping needs a prefix');
  const prefixRegex = optionalBoolean(SOURCE, spec.prefix_regex, `${at}.prefix_regex`) ?? false;
  const prefixExact = optionalBoolean(SOURCE, spec.prefix_exact, `${at}.prefix_exact`) ?? false;
  const caseSensitive = optionalBoolean(SOURCE, spec.case_sensitive, `${at}.case_sensitive`) ?? true;
  const method = optionalString(SOURCE, spec.method, `${at}.method`);
  const methodRegex = optionalBoolean(SOURCE, spec.method_regex, `${at}.method_regex`) ?? false;
  const host = optionalString(SOURCE, spec.host, `${at}.host`);
  const hostRegex = optionalBoolean(SOURCE, spec.host_regex, `${at}.host_regex`) ?? false;
  const hostname = optionalString(SOURCE, spec.hostname, `${at}.hostname`);
  const weight = readWeight(spec.weight, `${at}.weight`);
  const precedence = spec.precedence ?? 0;
  if (typeof precedence !== 'number' || !Number.isInteger(precedence)) {
    throw new InvalidImportError(
      SOURCE,
      `${at}.precedence`,
      `expected an integer, got ${describeValue(precedence)}`,
    );
  }
  const service = optionalString(SOURCE, spec.service, `${at}.service`);

  // The header list as Emissary builds it: headers, regex_headers, then :authority and :method.
  const headers: Header[] = [];
  readPairs(spec.headers, `${at}.headers`, false, headers, true);
  readPairs(spec.regex_headers, `${at}.regex_headers`, true, headers, true);
  if (host !== undefined) headers.push({ name: ':authority', value: host, regex: hostRegex });
  if (method !== undefined) headers.push({ name: ':method', value: method, regex: methodRegex });
  const queries: Header[] = [];
  readPairs(spec.query_parameters, `${at}.query_parameters`, false, queries, false);
  readPairs(spec.regex_query_parameters, `${at}.regex_query_parameters`, true, queries, false);

  const conditions: Condition[] = [];
  let methodMatch: StringMatch | undefined;
  for (const h of headers) {
    if (h.name === ':method') {
      methodMatch = h.regex
        ? { type: 'RegularExpression', value: h.value! }
        : { type: 'Exact', value: h.value! };
    } else {
      const name = h.name === ':authority' ? 'host' : h.name;
      conditions.push(toCondition(name, h));
    }
  }
  if (hostname !== undefined && hostname !== '*') conditions.push(hostGlob(hostname, `${at}.hostname`));
  const match: {
    method?: StringMatch;
    path?: StringMatch;
    headers?: Condition[];
    queryParams?: Condition[];
  } = {};
  if (methodMatch !== undefined) match.method = methodMatch;
  const pathMatch = toPathMatch(prefix, prefixRegex, prefixExact, caseSensitive, `${at}.prefix`);
  if (pathMatch !== undefined) match.path = pathMatch;
  if (conditions.length > 0) match.headers = conditions;
  if (queries.length > 0) match.queryParams = queries.map((q) => toCondition(q.name, q));

  const lane = laneOrBase(
    SOURCE,
    typeof laneOf === 'function'
      ? laneOf({ ...spec, name } as AmbassadorMappingSpec)
      : service === undefined
        ? undefined
        : laneOf[service],
    typeof laneOf === 'function' ? `options.laneOf(${at})` : `options.laneOf[${JSON.stringify(service)}]`,
  );

  const group = JSON.stringify([
    method ?? '*',
    prefix,
    prefixRegex,
    prefixExact,
    caseSensitive,
    hostname ?? '*',
    headers.map((h) => [h.name, h.value ?? null, h.regex]).sort(),
    queries.map((q) => [q.name, q.value ?? null, q.regex]).sort(),
    precedence,
  ]);
  const length = (list: readonly Header[]) =>
    list.reduce((sum, h) => sum + h.name.length + (h.value ?? '*').length + (h.regex ? 1 : 0), 0);
  const routeWeight = [
    precedence,
    prefix.length,
    length(headers),
    length(queries),
    prefix,
    method ?? 'GET',
    ...headers.map((h) => `${h.name}-${h.value ?? '*'}`),
    ...queries.map((q) => `${q.name}-${q.value ?? '*'}`),
  ];
  return {
    index,
    spec: { ...(spec as AmbassadorMappingSpec), name: name ?? `mappings[${index}]` },
    lane,
    weight,
    group,
    routeWeight,
    match,
  };
}

function readWeight(raw: unknown, path: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 100) {
    throw new InvalidImportError(
      SOURCE,
      path,
      `expected an integer percentage from 0 to 100, got ${describeValue(raw)}`,
    );
  }
  return raw;
}

function readPairs(raw: unknown, path: string, regex: boolean, into: Header[], isHeader: boolean): void {
  if (raw === undefined || raw === null) return;
  for (const [name, value] of Object.entries(record(SOURCE, raw, path))) {
    const at = `${path}.${name}`;
    if (isHeader) headerName(SOURCE, name, at);
    else if (name.length === 0)
      throw new InvalidImportError(SOURCE, at, 'a query parameter name is required');
    if (!regex && value === true) {
      into.push({ name: isHeader ? name.toLowerCase() : name, value: undefined, regex: false });
      continue;
    }
    if (typeof value !== 'string') {
      throw new InvalidImportError(
        SOURCE,
        at,
        `expected a string${regex ? '' : ' or true'}, got ${describeValue(value)}`,
      );
    }
    if (regex) checkPattern(SOURCE, value, at);
    into.push({ name: isHeader ? name.toLowerCase() : name, value, regex });
  }
}

function toCondition(name: string, h: Header): Condition {
  if (h.value === undefined) return { name, type: 'Present' };
  return { name, type: h.regex ? 'RegularExpression' : 'Exact', value: h.value };
}

function toPathMatch(
  prefix: string,
  regex: boolean,
  exact: boolean,
  caseSensitive: boolean,
  path: string,
): StringMatch | undefined {
  if (regex) {
    checkPattern(SOURCE, prefix, path);
    return { type: 'RegularExpression', value: caseSensitive ? prefix : `(?i:${prefix})` };
  }
  if (caseSensitive) {
    if (exact) return { type: 'Exact', value: prefix };
    return prefix === '/' || prefix === '' ? undefined : { type: 'Prefix', value: prefix };
  }
  return { type: 'RegularExpression', value: `(?i:${quoteRegex(prefix)})${exact ? '' : '.*'}` };
}

// Emissary's `hostname` is a DNS glob: `*` alone, or a leading `*.` / trailing `.*` wildcard.
function hostGlob(glob: string, path: string): Condition {
  if (!glob.includes('*'))
    return { name: 'host', type: 'RegularExpression', value: `(?i:${quoteRegex(glob)})(?::[0-9]+)?` };
  const star = glob.indexOf('*');
  if (glob.indexOf('*', star + 1) !== -1 || (star !== 0 && star !== glob.length - 1)) {
    throw new InvalidImportError(SOURCE, path, `expected *, *.domain or host.*, got ${describeValue(glob)}`);
  }
  const literal = quoteRegex(glob.replace('*', '\u0000')).replace('\u0000', '[^:]*');
  return { name: 'host', type: 'RegularExpression', value: `(?i:${literal})(?::[0-9]+)?` };
}

// Python's list ordering, as Emissary sorts route weights.
function compareRouteWeights(a: ReadonlyArray<number | string>, b: ReadonlyArray<number | string>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
