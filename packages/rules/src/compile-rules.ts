import type { IncomingMessage } from 'node:http';
import { assertKnownOptions, InvalidOptionError, isHttpToken, parseLane } from '@graylane/core';
import {
  COOKIE,
  type CompiledCondition,
  compileCondition,
  compileStringMatch,
  conditionHolds,
  HEADER,
  METHOD,
  PATH,
  QUERY,
} from './condition';
import { InvalidRuleError } from './errors';
import { ExactIndex } from './exact-index';
import { RequestView, STAT_INVALID, STAT_MALFORMED, STAT_OVERSIZE } from './request-view';
import { type EdgeDecision, type EdgeRequest, NO_DECISION, type Rule } from './rule';
import { checkKeys, describeValue, HEADER_VALUE, isRecord } from './validate';
import { type CompiledSticky, compileSticky, compileWeightValue, wins } from './weight';

/** Longest input (header value, cookie header, query string, sticky key) handed to a regex or parsed. */
export const DEFAULT_MAX_INPUT_LENGTH = 8192;

/** Options of {@link compileRules}. */
export interface CompileRulesOptions {
  /**
   * Inputs longer than this many characters never reach a regular expression or a parser: a regex
   * condition on them does not match, an oversized cookie header or query string reads as absent,
   * an oversized sticky key draws at random. Each is counted. Default 8192.
   */
  readonly maxInputLength?: number | undefined;
  /** Source of non-sticky draws, returning [0, 1). Default `Math.random` (inject a seeded one in tests). */
  readonly random?: (() => number) | undefined;
}

const COMPILE_RULES_OPTION_KEYS: readonly string[] = Object.keys({
  maxInputLength: 1,
  random: 1,
} satisfies Record<keyof CompileRulesOptions, 1>);

/** Counters of a compiled rule set since it was compiled. */
export interface RuleCounters {
  /** Requests decided by each rule, by rule index. */
  readonly byRule: readonly number[];
  /** Requests no rule matched. */
  readonly noMatch: number;
  /** Malformed cookie pairs or query pairs skipped. */
  readonly malformedInputs: number;
  /** Inputs longer than `maxInputLength` left unparsed or unmatched. */
  readonly oversizeInputs: number;
  /**
   * Request fields of the wrong type that were ignored (`query: null`, a number as `headers`, an
   * array header value holding a non-string, ...), and requests whose objects threw while being
   * read (a throwing getter or `get()`): those decide {@link NO_DECISION}.
   */
  readonly invalidInputs: number;
}

/** @internal One compiled rule. */
export class CompiledRule {
  constructor(
    readonly matches: ReadonlyArray<readonly CompiledCondition[]> | null,
    readonly weight: number,
    readonly sticky: CompiledSticky | null,
    readonly decision: EdgeDecision,
  ) {}
}

/**
 * A validated, compiled rule set. `decide()` is the hot path: no allocation when nothing matches
 * beyond what a rule's own conditions need (the path, a parsed query or cookie header).
 */
export class CompiledRules {
  /** The rules as given (frozen copy of the array), for diagnostics. */
  readonly rules: readonly Rule[];
  readonly #compiled: readonly CompiledRule[];
  readonly #view: RequestView;
  readonly #random: () => number;
  readonly #hits: Float64Array;
  readonly #stats = new Float64Array(3);
  readonly #index: ExactIndex | null;
  #noMatch = 0;

  /** @internal Use {@link compileRules}. */
  constructor(
    rules: readonly Rule[],
    compiled: readonly CompiledRule[],
    maxInputLength: number,
    random: () => number,
  ) {
    this.rules = Object.freeze([...rules]);
    this.#compiled = compiled;
    this.#random = random;
    this.#hits = new Float64Array(compiled.length);
    // One cache slot per distinct header name the conditions read.
    const slots = new Map<string, number>();
    for (const rule of compiled) {
      for (const conditions of rule.matches ?? []) {
        for (const condition of conditions) {
          if (condition.source !== HEADER) continue;
          let slot = slots.get(condition.name);
          if (slot === undefined) {
            slot = slots.size;
            slots.set(condition.name, slot);
          }
          condition.slot = slot;
        }
      }
    }
    const names = [...slots.keys()];
    // Other header names a request may be read by: sticky keys and the Cookie header.
    for (const rule of compiled) {
      if (rule.sticky !== null && rule.sticky.source === HEADER && !names.includes(rule.sticky.key)) {
        names.push(rule.sticky.key);
      }
    }
    if (!names.includes('cookie')) names.push('cookie');
    this.#view = new RequestView(maxInputLength, this.#stats, slots.size, names);
    this.#index = ExactIndex.build(compiled);
  }

  /** Number of rules. */
  get size(): number {
    return this.#compiled.length;
  }

  /**
   * Decides a request's lane: the first rule whose matches hold (and whose weight draw succeeds)
   * wins. Takes a Node `IncomingMessage` (Express `req` works; anything with a string `url` is read
   * that way) or an {@link EdgeRequest}. Never throws on request input: a field of the wrong type
   * is ignored and counted (`invalidInputs`), and the cost is linear in the request's size (a
   * plain record with thousands of header keys is scanned once per request, not once per name).
   *
   * @returns the winning rule's shared frozen decision, or {@link NO_DECISION}.
   */
  decide(request: EdgeRequest | IncomingMessage): EdgeDecision {
    if (typeof request !== 'object' || request === null) {
      this.#stats[STAT_INVALID]!++;
      return NO_DECISION;
    }
    const view = this.#view;
    try {
      view.reset(request as EdgeRequest);
      const rules = this.#compiled;
      const index = this.#index;
      if (index !== null) index.prepare(view);
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        if (rule.weight === 0 || (index !== null && !index.admits(i)) || !ruleMatches(rule, view)) continue;
        if (rule.weight < 100 && !wins(rule.weight, rule.sticky, view, this.#random)) continue;
        this.#hits[i]!++;
        return rule.decision;
      }
      this.#noMatch++;
      return NO_DECISION;
    } catch {
      // Only a request object of the caller's making gets here (a getter, a Proxy or a `get()`
      // that throws): it is bad input, so it is counted and decides nothing.
      view.invalid();
      return NO_DECISION;
    } finally {
      view.clear();
    }
  }

  /** A snapshot of the counters. */
  counters(): RuleCounters {
    return {
      byRule: Array.from(this.#hits),
      noMatch: this.#noMatch,
      malformedInputs: this.#stats[STAT_MALFORMED]!,
      oversizeInputs: this.#stats[STAT_OVERSIZE]!,
      invalidInputs: this.#stats[STAT_INVALID]!,
    };
  }
}

function ruleMatches(rule: CompiledRule, view: RequestView): boolean {
  const matches = rule.matches;
  if (matches === null) return true;
  for (let m = 0; m < matches.length; m++) if (allHold(matches[m]!, view)) return true;
  return false;
}

function allHold(conditions: readonly CompiledCondition[], view: RequestView): boolean {
  for (let c = 0; c < conditions.length; c++) if (!conditionHolds(conditions[c]!, view)) return false;
  return true;
}

/**
 * Validates edge rules once and compiles them. Regular expressions are compiled here (on re2js,
 * linear time); every mistake is a typed error naming the field.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` with `path` like `rules[2].matches[0].headers[1].type`.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad `options`.
 * @throws {RegexTooCostlyError} `GL_ERR_REGEX_TOO_COSTLY` for a regular expression that cannot be shown
 *   to run in bounded time on inputs up to `maxInputLength` (see `MAX_REGEX_WORK`).
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when a rule uses `RegularExpression` and `re2js` is not installed.
 * @example
 * const rules = compileRules([
 *   { lane: 'gray', matches: [{ headers: [{ name: 'x-user', type: 'RegularExpression', value: 'qa-.*' }] }] },
 *   { lane: 'gray', weight: 10, sticky: { cookie: 'uid' } },
 * ]);
 * rules.decide(req).lane; // 'gray' or undefined
 */
export function compileRules(rules: readonly Rule[], options: CompileRulesOptions = {}): CompiledRules {
  assertKnownOptions('compileRules()', options, COMPILE_RULES_OPTION_KEYS);
  const maxInputLength = options.maxInputLength ?? DEFAULT_MAX_INPUT_LENGTH;
  if (!Number.isInteger(maxInputLength) || maxInputLength < 1) {
    throw new InvalidOptionError(
      'maxInputLength',
      `expected a positive integer, got ${describeValue(maxInputLength)}`,
    );
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function')
    throw new InvalidOptionError('random', 'expected a function returning [0, 1)');
  if (!Array.isArray(rules))
    throw new InvalidRuleError('rules', `expected an array of rules, got ${describeValue(rules)}`);
  // Array.from visits holes too (as undefined): a sparse array fails here, not on a request.
  const compiled = Array.from(rules, (rule, i) => compileRule(rule, i, `rules[${i}]`, maxInputLength));
  return new CompiledRules(rules, compiled, maxInputLength, random);
}

const RULE_KEYS = [
  'lane',
  'name',
  'matches',
  'weight',
  'sticky',
  'setHeaders',
  'addHeaders',
  'removeHeaders',
];
const MATCH_KEYS = ['method', 'path', 'headers', 'queryParams', 'cookies'];

function compileRule(raw: unknown, index: number, path: string, maxInputLength: number): CompiledRule {
  if (!isRecord(raw)) throw new InvalidRuleError(path, `expected a rule object, got ${describeValue(raw)}`);
  checkKeys(raw, RULE_KEYS, path);
  let lane: string | undefined;
  if (raw.lane !== undefined && raw.lane !== null) {
    lane = parseLane(raw.lane);
    if (lane === undefined) {
      throw new InvalidRuleError(
        `${path}.lane`,
        `${describeValue(raw.lane)} is not a lane (a Kubernetes label value)`,
      );
    }
  }
  if (raw.name !== undefined && typeof raw.name !== 'string') {
    throw new InvalidRuleError(`${path}.name`, `expected a string, got ${describeValue(raw.name)}`);
  }
  let matches: Array<readonly CompiledCondition[]> | null = null;
  if (raw.matches !== undefined) {
    if (!Array.isArray(raw.matches)) {
      throw new InvalidRuleError(`${path}.matches`, `expected an array, got ${describeValue(raw.matches)}`);
    }
    if (raw.matches.length > 0) {
      matches = Array.from(raw.matches as unknown[], (match, m) =>
        compileMatch(match, `${path}.matches[${m}]`, maxInputLength),
      );
    }
  }
  const weight = compileWeightValue(raw.weight, `${path}.weight`);
  const sticky = compileSticky(raw.sticky, `${path}.sticky`, lane ?? '');
  const decision: {
    lane?: string;
    rule: number;
    name?: string;
    setHeaders?: Readonly<Record<string, string>>;
    addHeaders?: Readonly<Record<string, string>>;
    removeHeaders?: readonly string[];
  } = { rule: index };
  if (lane !== undefined) decision.lane = lane;
  if (raw.name !== undefined) decision.name = raw.name as string;
  const setHeaders = compileHeaderMap(raw.setHeaders, `${path}.setHeaders`);
  if (setHeaders !== undefined) decision.setHeaders = setHeaders;
  const addHeaders = compileHeaderMap(raw.addHeaders, `${path}.addHeaders`);
  if (addHeaders !== undefined) decision.addHeaders = addHeaders;
  const removeHeaders = compileHeaderList(raw.removeHeaders, `${path}.removeHeaders`);
  if (removeHeaders !== undefined) decision.removeHeaders = removeHeaders;
  return new CompiledRule(
    matches,
    weight,
    weight > 0 && weight < 100 ? sticky : null,
    Object.freeze(decision),
  );
}

function compileMatch(raw: unknown, path: string, maxInputLength: number): readonly CompiledCondition[] {
  if (!isRecord(raw)) throw new InvalidRuleError(path, `expected a match object, got ${describeValue(raw)}`);
  checkKeys(raw, MATCH_KEYS, path);
  const conditions: CompiledCondition[] = [];
  if (raw.method !== undefined)
    conditions.push(compileStringMatch(raw.method, METHOD, `${path}.method`, maxInputLength));
  if (raw.path !== undefined)
    conditions.push(compileStringMatch(raw.path, PATH, `${path}.path`, maxInputLength));
  for (const [field, source] of [
    ['headers', HEADER],
    ['queryParams', QUERY],
    ['cookies', COOKIE],
  ] as const) {
    const list = raw[field];
    if (list === undefined) continue;
    if (!Array.isArray(list))
      throw new InvalidRuleError(`${path}.${field}`, `expected an array, got ${describeValue(list)}`);
    for (let i = 0; i < list.length; i++) {
      conditions.push(compileCondition(list[i], source, `${path}.${field}[${i}]`, maxInputLength));
    }
  }
  // AND has no side effects: test the cheap conditions first (stable, so ties keep their order).
  // Not frozen: V8 reads frozen arrays several times slower, and this one never leaves the module.
  return conditions.sort((a, b) => a.cost - b.cost);
}

function compileHeaderMap(raw: unknown, path: string): Readonly<Record<string, string>> | undefined {
  if (raw === undefined) return undefined;
  if (!isRecord(raw))
    throw new InvalidRuleError(path, `expected an object of header: value, got ${describeValue(raw)}`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!isHttpToken(name))
      throw new InvalidRuleError(`${path}.${name}`, `${JSON.stringify(name)} is not a header name`);
    const key = name.toLowerCase();
    if (Object.hasOwn(out, key))
      throw new InvalidRuleError(`${path}.${name}`, `header ${key} is given twice`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw new InvalidRuleError(
        `${path}.${name}`,
        `expected a header value without CR, LF or NUL, got ${describeValue(value)}`,
      );
    }
    out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : Object.freeze(out);
}

function compileHeaderList(raw: unknown, path: string): readonly string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw))
    throw new InvalidRuleError(path, `expected an array of header names, got ${describeValue(raw)}`);
  const names = Array.from(raw as unknown[], (name, i) => {
    if (!isHttpToken(name)) {
      throw new InvalidRuleError(`${path}[${i}]`, `${describeValue(name)} is not a header name`);
    }
    return name.toLowerCase();
  });
  return names.length === 0 ? undefined : Object.freeze(names);
}
