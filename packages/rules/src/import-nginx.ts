import { assertKnownOptions, isHttpToken, type Lane } from '@graylane/core';
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
import { quoteRegex } from './regex';
import type { Rule } from './rule';
import { describeValue, isRecord } from './validate';

const SOURCE = 'ingress-nginx';

/** Options of {@link rulesFromNginxCanary}. */
export interface NginxCanaryOptions extends ImportStickyOption {
  /** The lane the canary Ingress's backend serves. */
  readonly lane: Lane;
  /** The annotation prefix (`--annotations-prefix`). Default `nginx.ingress.kubernetes.io`. */
  readonly prefix?: string | undefined;
}

const NGINX_CANARY_OPTION_KEYS: readonly string[] = Object.keys({
  sticky: 1,
  lane: 1,
  prefix: 1,
} satisfies Record<keyof NginxCanaryOptions, 1>);

/**
 * Warning code emitted (once per pattern, with `process.emitWarning`) when a
 * `canary-by-header-pattern` is not a valid regular expression: as in ingress-nginx, that
 * condition never matches and a request carrying the header stays in the base lane.
 */
const INVALID_CANARY_PATTERN_WARNING = 'GL_WARN_INVALID_CANARY_PATTERN';

const warnedPatterns = new Set<string>();

// What PCRE accepts and RE2 may not: lookaround, atomic groups, backreferences, possessive
// quantifiers, recursion, conditionals, comments, branch reset, named groups, \K \G \Z \R \X \h.
// A pattern using one is valid in nginx, so graylane cannot reproduce it (a load error, not a
// "never matches").
const PCRE_ONLY = /\\(?:[1-9]|[kgKGZRXhH])|\(\?(?:[=!>#|(]|<[=!A-Za-z]|P[>=]|R\)|[+-]?\d+\))|[*+?}]\+/;

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
 *    WITHOUT looking at the cookie or the weight; other values fall through. The header is read
 *    as nginx's `$http_<name>`: `_` in the annotation stands for `-` (`X_Canary` is `x-canary`).
 *    A pattern that is not a valid regular expression never matches: a request carrying the
 *    header stays in the base lane (nginx logs the error and routes to the mainline), and a
 *    `GL_WARN_INVALID_CANARY_PATTERN` warning is emitted once.
 * 2. `canary-by-cookie`: `always` enters, `never` stays in the base lane, other values fall through.
 *    The cookie is found as nginx's `$cookie_<name>`: the first cookie of that name compared
 *    case-insensitively, pairs split on `;` or `,` (this needs `re2js`).
 * 3. `canary-weight` / `canary-weight-total` (default 100): that share enters at random.
 *
 * `canary: "false"` (or no `canary`) means the Ingress is not a canary: no rules, whatever other
 * canary annotations it carries (ingress-nginx drops the canary configuration).
 *
 * @throws {InvalidImportError} `GL_ERR_INVALID_IMPORT` naming the annotation: a `canary` value
 *   that is not a boolean, a non-integer or out-of-range weight, a total below 100, a bad header
 *   or cookie name, a pattern using PCRE features RE2 cannot run, session affinity on the canary
 *   (`affinity`, `affinity-canary-behavior: sticky`), or an unknown `canary-*` annotation.
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
  assertKnownOptions('rulesFromNginxCanary()', options, NGINX_CANARY_OPTION_KEYS);
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
  // ingress-nginx (internal/ingress/annotations/canary/main.go) answers "configured but not
  // enabled" with an error the annotation extractor skips: the Ingress is then not a canary.
  if (!enabled || !configured) return [];
  checkAffinity(map, prefix, at);
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
    // balancer.lua reads ngx.var["http_" .. name with "-" replaced by "_"]: nginx's $http_ variable
    // for the request header whose lowercased name, with "-" as "_", is that.
    const name = headerName(SOURCE, header, field(at, `${prefix}/canary-by-header`)).replace(/_/g, '-');
    if (headerValue !== undefined) {
      rules.push({
        lane,
        name: 'canary-by-header-value',
        matches: [{ headers: [{ name, value: headerValue }] }],
      });
    } else if (headerPattern !== undefined) {
      const patternAt = field(at, `${prefix}/canary-by-header-pattern`);
      if (patternRunsOnRe2(headerPattern, patternAt)) {
        // ngx.re.match searches: the pattern may match anywhere in the value.
        const value = `(?s:.*)(?:${headerPattern})(?s:.*)`;
        rules.push({
          lane,
          name: 'canary-by-header-pattern',
          matches: [{ headers: [{ name, type: 'RegularExpression', value }] }],
        });
      } else {
        // balancer.lua: ngx.re.match returns an error, which is logged, and the request goes to
        // the mainline without looking at the cookie or the weight.
        rules.push({
          name: 'canary-by-header-pattern (invalid: never matches)',
          matches: [{ headers: [{ name, type: 'Present' }] }],
        });
      }
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
    if (!isHttpToken(cookie)) {
      throw new InvalidImportError(
        SOURCE,
        field(at, `${prefix}/canary-by-cookie`),
        `${describeValue(cookie)} is not a cookie name`,
      );
    }
    rules.push({
      lane,
      name: 'canary-by-cookie always',
      matches: [
        { headers: [{ name: 'cookie', type: 'RegularExpression', value: nginxCookie(cookie, 'always') }] },
      ],
    });
    rules.push({
      name: 'canary-by-cookie never',
      matches: [
        { headers: [{ name: 'cookie', type: 'RegularExpression', value: nginxCookie(cookie, 'never') }] },
      ],
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

/**
 * An RE2 pattern over the whole Cookie header that holds when nginx's `$cookie_<name>` is exactly
 * `value`. nginx (src/http/ngx_http_parse.c, ngx_http_parse_multi_header_lines) takes the FIRST
 * pair whose name equals `name` case-insensitively; pairs are separated by `;` or `,`, spaces after
 * a separator and around `=` are skipped, and the value runs to the next `;`. A pair "not named"
 * `name` is spelled out as the alternatives that differ from it at some character.
 */
function nginxCookie(name: string, value: string): string {
  const letter = /^[A-Za-z]$/;
  const literal = (c: string) => (letter.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : quoteRegex(c));
  const inClass = (c: string) =>
    letter.test(c) ? `${c.toLowerCase()}${c.toUpperCase()}` : /[0-9]/.test(c) ? c : `\\${c}`;
  const others: string[] = [];
  let named = '';
  for (let i = 0; i < name.length; i++) {
    // Equal so far, then a different character (not a space at the very start), or the end.
    others.push(`${named}(?:[^;,${i === 0 ? ' ' : ''}${inClass(name[i]!)}][^;,]*)?`);
    named += literal(name[i]!);
  }
  others.push(`${named} *(?:[^;,= ][^;,]*)?`);
  const other = `(?:${others.join('|')})`;
  return `(?s)(?: [^;,]*[;,] *)?(?:${other}[;,] *)*${named} *= *${quoteRegex(value)}(?:;.*)?`;
}

/**
 * True when `pattern` runs on RE2; false (with a one-time warning) when it is not a valid regular
 * expression at all; throws when it uses a PCRE feature RE2 lacks (valid in nginx, not reproducible).
 */
function patternRunsOnRe2(pattern: string, path: string): boolean {
  if (PCRE_ONLY.test(pattern)) {
    checkPattern(SOURCE, pattern, path);
    return true;
  }
  try {
    checkPattern(SOURCE, pattern, path);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'GL_ERR_INVALID_IMPORT') throw err;
    if (!warnedPatterns.has(pattern)) {
      warnedPatterns.add(pattern);
      process.emitWarning(
        `ingress-nginx ${path}: ${describeValue(pattern)} is not a valid regular expression; as in ingress-nginx, the condition never matches and a request with the header stays in the base lane (${(err as Error).message})`,
        { type: 'GraylaneWarning', code: INVALID_CANARY_PATTERN_WARNING },
      );
    }
    return false;
  }
}

// Session affinity pins a user to the backend that served them (a response cookie naming the
// backend, rootfs/etc/nginx/lua/balancer.lua is_affinitized); rules decide each request alone.
function checkAffinity(map: Readonly<Record<string, unknown>>, prefix: string, at: string): void {
  const behaviorKey = `${prefix}/affinity-canary-behavior`;
  const behavior = map[behaviorKey];
  if (
    behavior !== undefined &&
    behavior !== null &&
    behavior !== '' &&
    behavior !== 'sticky' &&
    behavior !== 'legacy'
  ) {
    throw new InvalidImportError(
      SOURCE,
      field(at, behaviorKey),
      `expected "sticky" or "legacy", got ${describeValue(behavior)}`,
    );
  }
  const affinityKey = `${prefix}/affinity`;
  const affinity = map[affinityKey];
  if ((affinity !== undefined && affinity !== null && affinity !== '') || behavior === 'sticky') {
    throw new InvalidImportError(
      SOURCE,
      field(at, affinity !== undefined && affinity !== null && affinity !== '' ? affinityKey : behaviorKey),
      'session affinity between canary and mainline is not supported: it keeps a user on the backend that served them through a response cookie, and graylane rules decide each request on its own. Remove affinity from the canary Ingress (affinity-canary-behavior: "legacy" without affinity imports), or use the sticky option to keep a user on one side of the weight',
    );
  }
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
