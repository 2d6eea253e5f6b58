import type { Lane } from '@graylane/core';
import { InvalidImportError } from './errors';
import {
  checkPattern,
  headerName,
  type ImportedRule,
  type ImportStickyOption,
  laneOrBase,
  record,
  share,
} from './import-util';
import type { Rule } from './rule';
import { describeValue, isRecord } from './validate';

const SOURCE = 'ingress-nginx';

/** Options of {@link rulesFromNginxCanary}. */
export interface NginxCanaryOptions extends ImportStickyOption {
  /** The lane the canary Ingress's backend serves. */
  readonly lane: Lane;
  /** The annotation prefix (`--annotations-prefix`). Default `nginx.ingress.kubernetes.io`. */
  readonly prefix?: string;
}

const SUFFIXES = [
  'canary',
  'canary-by-header',
  'canary-by-header-value',
  'canary-by-header-pattern',
  'canary-by-cookie',
  'canary-weight',
  'canary-weight-total',
];

/**
 * Rules with the outcome of an ingress-nginx canary Ingress, from its annotations (or the Ingress
 * object itself). Followed from the ingress-nginx annotations documentation and its balancer:
 *
 * 1. `canary-by-header`: with `canary-by-header-value`, that exact value enters the lane (other
 *    values fall through); else with `canary-by-header-pattern`, a value the PCRE pattern finds
 *    (an unanchored search) enters; else `always` enters and `never` stays in the base lane
 *    WITHOUT looking at the cookie or the weight; other values fall through.
 * 2. `canary-by-cookie`: `always` enters, `never` stays in the base lane, other values fall through.
 * 3. `canary-weight` / `canary-weight-total` (default 100): that share enters at random.
 *
 * @throws {InvalidImportError} `GL_ERR_INVALID_IMPORT` naming the annotation: canary settings without
 *   `canary: "true"`, a non-integer or out-of-range weight, a total below 100, a bad header name,
 *   a pattern RE2 cannot run, or an unknown `canary-*` annotation.
 * @example
 * rulesFromNginxCanary({
 *   'nginx.ingress.kubernetes.io/canary': 'true',
 *   'nginx.ingress.kubernetes.io/canary-by-header': 'foo',
 *   'nginx.ingress.kubernetes.io/canary-by-header-value': 'bar',
 *   'nginx.ingress.kubernetes.io/canary-weight': '30',
 * }, { lane: 'gray' });
 */
export function rulesFromNginxCanary(
  annotations: Readonly<Record<string, unknown>>,
  options: NginxCanaryOptions,
): Rule[] {
  const opts = record(SOURCE, options, 'options');
  const lane = laneOrBase(SOURCE, opts.lane, 'options.lane');
  if (lane === undefined) throw new InvalidImportError(SOURCE, 'options.lane', 'the canary lane is required');
  const prefix = opts.prefix ?? 'nginx.ingress.kubernetes.io';
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new InvalidImportError(
      SOURCE,
      'options.prefix',
      `expected an annotation prefix, got ${describeValue(prefix)}`,
    );
  }
  let map = record(SOURCE, annotations, 'annotations');
  let at = 'annotations';
  if (isRecord(map.metadata)) {
    map = record(SOURCE, map.metadata.annotations ?? {}, 'metadata.annotations');
    at = 'metadata.annotations';
  }
  const read = (suffix: string): string | undefined => {
    const key = `${prefix}/${suffix}`;
    const value = map[key];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      throw new InvalidImportError(
        SOURCE,
        field(at, key),
        `annotation values are strings; quote it ("${String(value)}")`,
      );
    }
    return value;
  };
  for (const key of Object.keys(map)) {
    if (key.startsWith(`${prefix}/canary`) && !SUFFIXES.includes(key.slice(prefix.length + 1))) {
      throw new InvalidImportError(
        SOURCE,
        field(at, key),
        `not an ingress-nginx canary annotation (known: ${SUFFIXES.join(', ')})`,
      );
    }
  }

  const enabledText = read('canary');
  const enabled = enabledText === undefined ? false : parseGoBool(enabledText, field(at, `${prefix}/canary`));
  const header = read('canary-by-header');
  const headerValue = read('canary-by-header-value');
  const headerPattern = read('canary-by-header-pattern');
  const cookie = read('canary-by-cookie');
  const weightText = read('canary-weight');
  const totalText = read('canary-weight-total');
  const configured = [header, headerValue, headerPattern, cookie, weightText, totalText].some(
    (v) => v !== undefined,
  );
  if (!enabled) {
    if (configured) {
      throw new InvalidImportError(
        SOURCE,
        field(at, `${prefix}/canary`),
        'canary annotations are configured but canary is not "true"',
      );
    }
    return [];
  }
  const weight =
    weightText === undefined ? 0 : parseInteger(weightText, field(at, `${prefix}/canary-weight`));
  const total =
    totalText === undefined ? 100 : parseInteger(totalText, field(at, `${prefix}/canary-weight-total`));
  if (total < 100) {
    throw new InvalidImportError(
      SOURCE,
      field(at, `${prefix}/canary-weight-total`),
      `${total} is below the default 100; the documentation only allows increasing it (the balancer ignores totals below 100)`,
    );
  }
  if (weight < 0 || weight > total) {
    throw new InvalidImportError(
      SOURCE,
      field(at, `${prefix}/canary-weight`),
      `expected 0 to ${total}, got ${weight}`,
    );
  }

  const rules: Rule[] = [];
  if (header !== undefined) {
    const name = headerName(SOURCE, header, field(at, `${prefix}/canary-by-header`));
    if (headerValue !== undefined) {
      rules.push({
        lane,
        name: 'canary-by-header-value',
        matches: [{ headers: [{ name, value: headerValue }] }],
      });
    } else if (headerPattern !== undefined) {
      checkPattern(SOURCE, headerPattern, field(at, `${prefix}/canary-by-header-pattern`));
      // ngx.re.match searches: the pattern may match anywhere in the value.
      const value = `(?s:.*)(?:${headerPattern})(?s:.*)`;
      rules.push({
        lane,
        name: 'canary-by-header-pattern',
        matches: [{ headers: [{ name, type: 'RegularExpression', value }] }],
      });
    } else {
      rules.push({
        lane,
        name: 'canary-by-header always',
        matches: [{ headers: [{ name, value: 'always' }] }],
      });
      rules.push({ name: 'canary-by-header never', matches: [{ headers: [{ name, value: 'never' }] }] });
    }
  }
  if (cookie !== undefined) {
    rules.push({
      lane,
      name: 'canary-by-cookie always',
      matches: [{ cookies: [{ name: cookie, value: 'always' }] }],
    });
    rules.push({
      name: 'canary-by-cookie never',
      matches: [{ cookies: [{ name: cookie, value: 'never' }] }],
    });
  }
  if (weight > 0) {
    const rule: ImportedRule = {
      lane,
      name: 'canary-weight',
      weight: share(weight, total),
    };
    if (opts.sticky !== undefined) rule.sticky = opts.sticky as Rule['sticky'];
    rules.push(rule);
  }
  return rules;
}

function field(at: string, key: string): string {
  return `${at}[${JSON.stringify(key)}]`;
}

// Go's strconv.ParseBool, which ingress-nginx uses for boolean annotations.
function parseGoBool(text: string, path: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new InvalidImportError(SOURCE, path, `expected "true" or "false", got ${describeValue(text)}`);
}

function parseInteger(text: string, path: string): number {
  if (!/^[+-]?\d{1,9}$/.test(text))
    throw new InvalidImportError(SOURCE, path, `expected an integer, got ${describeValue(text)}`);
  return Number(text);
}
