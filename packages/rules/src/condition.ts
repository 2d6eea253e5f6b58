import { isHttpToken } from '@graylane/core';
import { InvalidRuleError, RegexTooCostlyError } from './errors';
import { compileWholeMatch, MAX_REGEX_WORK, regexWorkPerCharacter, type WholeMatcher } from './regex';
import { DfaMatcher } from './regex-dfa';
import type { RequestView } from './request-view';
import { checkKeys, describeValue, isRecord } from './validate';

// Where a condition reads its value. Module-local constants, exported by name below: CommonJS
// output would otherwise read every `export const` through `exports.*` on the hot path.
const METHOD = 0;
const PATH = 1;
const HEADER = 2;
const QUERY = 3;
const COOKIE = 4;
// The pseudo-headers Envoy's header matchers read (`:path` is the path WITH its query string).
const TARGET = 5;
const AUTHORITY = 6;
const SCHEME = 7;

export { COOKIE, HEADER, METHOD, PATH, QUERY };

const PSEUDO_HEADERS: Readonly<Record<string, number>> = {
  ':method': METHOD,
  ':path': TARGET,
  ':authority': AUTHORITY,
  ':scheme': SCHEME,
};

// How it compares.
const EXACT = 0;
const PREFIX = 1;
const REGEX = 2;
const PRESENT = 3;
const ABSENT = 4;
const SUFFIX = 5;
const CONTAINS = 6;

const KINDS: Readonly<Record<string, number>> = {
  Exact: EXACT,
  Prefix: PREFIX,
  Suffix: SUFFIX,
  Contains: CONTAINS,
  RegularExpression: REGEX,
  Present: PRESENT,
  Absent: ABSENT,
};

// Results of patterns that run on re2js are remembered per condition for short values: header
// values such as client versions repeat across requests, and a lookup is several times cheaper
// than re2js. Bounded: values up to MEMO_MAX_KEY characters, and the memo is emptied when it
// reaches MEMO_MAX_ENTRIES, so a client sending ever-new values costs memory no more than that.
// Patterns on the DFA engine skip the memo (a DFA run costs about what the lookup does) but keep
// the last value.
const MEMO_MAX_KEY = 128;
const MEMO_MAX_ENTRIES = 256;

/**
 * A validated condition. `cost` orders the conditions of a match, cheapest first; `slot` is the
 * per-request cache slot of a header name (assigned by the rule set, -1 until then).
 */
export class CompiledCondition {
  slot = -1;
  readonly memo: Map<string, boolean> | null;
  // The last value tested and its result: consecutive requests often carry the same value.
  lastInput: string | undefined = undefined;
  lastResult = false;

  constructor(
    readonly source: number,
    readonly name: string,
    readonly kind: number,
    readonly value: string,
    readonly regex: WholeMatcher | null,
    readonly invert: boolean,
    readonly cost: number,
    /** Compare ASCII letters case-insensitively (`value` is then stored lowercase). */
    readonly ignoreCase: boolean = false,
    /** A missing value is compared as `''` (Envoy `treat_missing_header_as_empty`). */
    readonly missingAsEmpty: boolean = false,
  ) {
    this.memo = regex === null || regex instanceof DfaMatcher ? null : new Map();
  }
}

function regexHolds(condition: CompiledCondition, value: string): boolean {
  if (value === condition.lastInput) return condition.lastResult;
  if (value.length > MEMO_MAX_KEY) return condition.regex!.testExact(value);
  const memo = condition.memo;
  let result = memo === null ? undefined : memo.get(value);
  if (result === undefined) {
    result = condition.regex!.testExact(value);
    if (memo !== null) {
      if (memo.size >= MEMO_MAX_ENTRIES) memo.clear();
      memo.set(value, result);
    }
  }
  condition.lastInput = value;
  condition.lastResult = result;
  return result;
}

/** True for a condition that requires one exact header value (what the exact index can use). */
export function exactHeaderCondition(condition: CompiledCondition): boolean {
  return (
    condition.source === HEADER &&
    condition.kind === EXACT &&
    !condition.invert &&
    !condition.ignoreCase &&
    !condition.missingAsEmpty
  );
}

/** True when `condition` holds for the request in `view`. Never throws on request input. */
export function conditionHolds(condition: CompiledCondition, view: RequestView): boolean {
  let value: string | undefined;
  switch (condition.source) {
    case HEADER:
      value = view.headerAt(condition.slot, condition.name);
      break;
    case METHOD:
      value = view.method();
      break;
    case PATH:
      value = view.path();
      break;
    case QUERY:
      value = view.queryParam(condition.name);
      break;
    case COOKIE:
      value = view.cookie(condition.name);
      break;
    case TARGET:
      value = view.target();
      break;
    case AUTHORITY:
      value = view.authority();
      break;
    default:
      value = view.scheme();
  }
  const kind = condition.kind;
  if (value === undefined) {
    if (kind === ABSENT) return !condition.invert;
    if (kind === PRESENT) return condition.invert;
    // As Envoy's HeaderUtility::matchHeaders: a missing value matches nothing, inverted or not,
    // unless it is to be compared as the empty string.
    if (!condition.missingAsEmpty) return false;
    value = '';
  }
  if (condition.ignoreCase) value = asciiLowerCase(value);
  let holds: boolean;
  switch (kind) {
    case EXACT:
      holds = value === condition.value;
      break;
    case PREFIX:
      holds = value.startsWith(condition.value);
      break;
    case SUFFIX:
      holds = value.endsWith(condition.value);
      break;
    case CONTAINS:
      holds = value.includes(condition.value);
      break;
    case REGEX:
      holds = view.bounded(value) && regexHolds(condition, value);
      break;
    default:
      holds = kind === PRESENT;
  }
  return holds !== condition.invert;
}

const ASCII_UPPER = /[A-Z]/;
const ASCII_UPPER_RUNS = /[A-Z]+/g;

function lowerRun(run: string): string {
  return run.toLowerCase();
}

/** Lowercases A-Z only (Envoy's `ignore_case` is ASCII-only); returns `text` itself when it has none. */
function asciiLowerCase(text: string): string {
  return ASCII_UPPER.test(text) ? text.replace(ASCII_UPPER_RUNS, lowerRun) : text;
}

const CONDITION_KEYS = ['name', 'type', 'value', 'invert', 'ignoreCase', 'treatMissingAsEmpty'];
const STRING_MATCH_KEYS = ['type', 'value', 'invert', 'ignoreCase'];

/** Validates a header, query-parameter or cookie condition. */
export function compileCondition(
  raw: unknown,
  source: number,
  path: string,
  maxInputLength: number,
): CompiledCondition {
  if (!isRecord(raw))
    throw new InvalidRuleError(path, `expected a condition { name, type, value }, got ${describeValue(raw)}`);
  checkKeys(raw, CONDITION_KEYS, path);
  const name = raw.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidRuleError(`${path}.name`, `expected a non-empty string, got ${describeValue(name)}`);
  }
  if (source === HEADER && name.charCodeAt(0) === 58 /* : */) {
    const pseudo = PSEUDO_HEADERS[name.toLowerCase()];
    if (pseudo === undefined) {
      throw new InvalidRuleError(
        `${path}.name`,
        `${JSON.stringify(name)} is not a request pseudo-header (:method, :path, :authority, :scheme)`,
      );
    }
    return build(raw, pseudo, '', path, true, maxInputLength);
  }
  if (source === HEADER && !isHttpToken(name)) {
    throw new InvalidRuleError(`${path}.name`, `${JSON.stringify(name)} is not a header name`);
  }
  const key = source === HEADER ? name.toLowerCase() : name;
  return build(raw, source, key, path, true, maxInputLength);
}

/** Validates a method or path match: a string (`Exact`) or `{ type, value, invert }`. */
export function compileStringMatch(
  raw: unknown,
  source: number,
  path: string,
  maxInputLength: number,
): CompiledCondition {
  if (typeof raw === 'string') return build({ value: raw }, source, '', path, false, maxInputLength);
  if (!isRecord(raw))
    throw new InvalidRuleError(path, `expected a string or { type, value }, got ${describeValue(raw)}`);
  checkKeys(raw, STRING_MATCH_KEYS, path);
  return build(raw, source, '', path, false, maxInputLength);
}

function build(
  raw: Readonly<Record<string, unknown>>,
  source: number,
  name: string,
  path: string,
  presence: boolean,
  maxInputLength: number,
): CompiledCondition {
  const type = raw.type ?? 'Exact';
  const kind = typeof type === 'string' ? KINDS[type] : undefined;
  if (kind === undefined || (!presence && (kind === PRESENT || kind === ABSENT))) {
    const allowed = presence
      ? Object.keys(KINDS).join(', ')
      : 'Exact, Prefix, Suffix, Contains, RegularExpression';
    throw new InvalidRuleError(
      `${path}.type`,
      `unknown condition type ${describeValue(type)}; expected one of ${allowed}`,
    );
  }
  const invert = raw.invert ?? false;
  if (typeof invert !== 'boolean') {
    throw new InvalidRuleError(`${path}.invert`, `expected a boolean, got ${describeValue(invert)}`);
  }
  const ignoreCase = raw.ignoreCase ?? false;
  if (typeof ignoreCase !== 'boolean') {
    throw new InvalidRuleError(`${path}.ignoreCase`, `expected a boolean, got ${describeValue(ignoreCase)}`);
  }
  const missingAsEmpty = raw.treatMissingAsEmpty ?? false;
  if (typeof missingAsEmpty !== 'boolean') {
    throw new InvalidRuleError(
      `${path}.treatMissingAsEmpty`,
      `expected a boolean, got ${describeValue(missingAsEmpty)}`,
    );
  }
  const value = raw.value;
  if (kind === PRESENT || kind === ABSENT) {
    if (value !== undefined)
      throw new InvalidRuleError(`${path}.value`, `a ${type as string} condition takes no value`);
    if (ignoreCase || missingAsEmpty) {
      throw new InvalidRuleError(
        `${path}.${ignoreCase ? 'ignoreCase' : 'treatMissingAsEmpty'}`,
        `has no meaning for a ${type as string} condition`,
      );
    }
    return new CompiledCondition(source, name, kind, '', null, invert, source === HEADER ? 0 : 2);
  }
  if (typeof value !== 'string') {
    throw new InvalidRuleError(`${path}.value`, `expected a string, got ${describeValue(value)}`);
  }
  if (kind === REGEX && ignoreCase) {
    throw new InvalidRuleError(`${path}.ignoreCase`, 'not for RegularExpression: write (?i) in the pattern');
  }
  // xDS StringMatcher: prefix, suffix and contains need at least one character. A path prefix may
  // be empty (RouteMatch.prefix: "" matches every path), so Istio's `uri: { prefix: "" }` imports.
  if (value.length === 0 && (kind === SUFFIX || kind === CONTAINS || (kind === PREFIX && source !== PATH))) {
    throw new InvalidRuleError(
      `${path}.value`,
      `an empty ${type as string} value matches everything; use Present, or remove the condition`,
    );
  }
  let regex: WholeMatcher | null = null;
  if (kind === REGEX) {
    try {
      regex = compileWholeMatch(value);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'GL_ERR_MISSING_PEER') throw err;
      throw new InvalidRuleError(`${path}.value`, `bad regular expression (RE2 syntax): ${errorText(err)}`, {
        cause: err,
      });
    }
    // Every accepted pattern runs in bounded time on every input the limits admit.
    const work = regexWorkPerCharacter(regex);
    if (work * maxInputLength > MAX_REGEX_WORK) {
      throw new RegexTooCostlyError(`${path}.value`, value, work, maxInputLength, MAX_REGEX_WORK);
    }
  }
  const base = source === PATH || source === TARGET ? 1 : source === QUERY || source === COOKIE ? 2 : 0;
  return new CompiledCondition(
    source,
    name,
    kind,
    ignoreCase ? asciiLowerCase(value) : value,
    regex,
    invert,
    kind === REGEX ? base + 3 : base,
    ignoreCase,
    missingAsEmpty,
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
