import type { HeaderRecord, HeadersLike, Lane } from '@graylane/core';

/**
 * How a value is compared (the xDS `StringMatcher` kinds, plus presence).
 *
 * | type | holds when |
 * |---|---|
 * | `Exact` | the value equals `value` (case-sensitive unless `ignoreCase`) |
 * | `Prefix` | the value starts with `value` (not empty, except for the path) |
 * | `Suffix` | the value ends with `value` (not empty) |
 * | `Contains` | the value contains `value` (not empty) |
 * | `RegularExpression` | `value` (RE2 syntax) matches the WHOLE value, as in Envoy, Istio and the Gateway API |
 * | `Present` | the header, query parameter or cookie is there (any value, even empty) |
 * | `Absent` | it is not there |
 */
export type ConditionType =
  | 'Exact'
  | 'Prefix'
  | 'Suffix'
  | 'Contains'
  | 'RegularExpression'
  | 'Present'
  | 'Absent';

/** A comparison of the method or the path. `type` defaults to `Exact`. */
export interface StringMatch {
  readonly type?: 'Exact' | 'Prefix' | 'Suffix' | 'Contains' | 'RegularExpression';
  readonly value: string;
  /** Holds when the comparison does NOT hold. Default false. */
  readonly invert?: boolean;
  /** Compare ASCII letters case-insensitively (xDS `ignore_case`); not for `RegularExpression`. Default false. */
  readonly ignoreCase?: boolean;
}

/**
 * A condition on a header, query parameter or cookie. Header names are case-insensitive; query
 * parameter and cookie names are case-sensitive; values are case-sensitive unless `ignoreCase`.
 * `type` defaults to `Exact`; `value` is required except for `Present` and `Absent`.
 *
 * Header names may be the pseudo-headers Envoy matches: `:method`, `:path` (the path WITH its
 * query string), `:authority` (HTTP/2 `:authority`, else `Host`) and `:scheme` (HTTP/2 `:scheme`,
 * else `https` on a TLS socket, `http` otherwise; not `X-Forwarded-Proto`). A header sent more than
 * once is matched on its values joined with `,` (as Envoy and grpc-go).
 */
export interface Condition {
  readonly name: string;
  readonly type?: ConditionType;
  readonly value?: string;
  /**
   * Holds when the comparison does NOT hold (Envoy `invert_match`). As in Envoy, a missing header,
   * parameter or cookie matches NO comparison, inverted or not: an inverted `Exact` does not hold
   * when the header is absent. Add `treatMissingAsEmpty` to make it hold (Istio `withoutHeaders`),
   * or use `Absent` / `Present` (an inverted `Present` is `Absent`). Default false.
   */
  readonly invert?: boolean;
  /** Compare ASCII letters case-insensitively (xDS `ignore_case`); not for `RegularExpression`. Default false. */
  readonly ignoreCase?: boolean;
  /**
   * Compare a missing value as the empty string (Envoy `treat_missing_header_as_empty`), so an
   * inverted `Exact: 'x'` holds without the header and an inverted `RegularExpression: '.*'` never
   * holds. Default false.
   */
  readonly treatMissingAsEmpty?: boolean;
}

/** Every field present must hold (AND). An empty match holds for every request. */
export interface RuleMatch {
  /** A method string (`'GET'`) is an `Exact` match. */
  readonly method?: string | StringMatch;
  /** Compared with the path without its query string, not percent-decoded. A string is `Exact`. */
  readonly path?: string | StringMatch;
  readonly headers?: readonly Condition[];
  readonly queryParams?: readonly Condition[];
  readonly cookies?: readonly Condition[];
}

/**
 * The key whose hash makes a weighted rule sticky: exactly one of `header`, `cookie`, `query`.
 * `salt` (default: the rule's lane, or `''` for a base-lane rule) decorrelates rules: rules with
 * the same salt and key put a user on the same side of their weights, so raising a weight from 20
 * to 50 keeps the first 20% where they were.
 */
export type StickyKey =
  | { readonly header: string; readonly salt?: string }
  | { readonly cookie: string; readonly salt?: string }
  | { readonly query: string; readonly salt?: string };

/**
 * An edge rule. Rules are tried in order; the first that matches (and, with a `weight`, wins its
 * draw) decides.
 *
 * @example
 * const rule: Rule = {
 *   lane: 'gray',
 *   matches: [{ headers: [{ name: 'User-Agent', type: 'Exact', value: 'foo' }] }],
 *   setHeaders: { 'x-mse-tag': 'gray' },
 * };
 */
export interface Rule {
  /** The lane this rule assigns. Omitted or `null`: the base lane (the rule still stops the search). */
  readonly lane?: Lane | null;
  /** A label for diagnostics. */
  readonly name?: string;
  /** OR of ANDs. Omitted or empty: every request matches. */
  readonly matches?: readonly RuleMatch[];
  /**
   * Share (0..100, fractional allowed) of the matching traffic this rule takes. The rest goes on to
   * the next rule. Default 100. 0 never matches; 100 always does, without a draw.
   */
  readonly weight?: number;
  /** Hash this key instead of drawing at random, so the same user always gets the same answer. */
  readonly sticky?: StickyKey;
  /** Request headers to set (replace) when the rule decides. */
  readonly setHeaders?: Readonly<Record<string, string>>;
  /** Request headers to append to (`, `-joined with an existing value) when the rule decides. */
  readonly addHeaders?: Readonly<Record<string, string>>;
  /** Request headers to remove when the rule decides. */
  readonly removeHeaders?: readonly string[];
}

/** A query given as a record (first value of an array counts) or as `URLSearchParams`. */
export type QueryLike =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null };

/**
 * A request as `decide()` reads it when it is not a Node `IncomingMessage`. `path` may carry a
 * `?query`, which is then parsed when `query` is not given; `cookies` default to the parsed
 * `cookie` header.
 */
export interface EdgeRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: HeaderRecord | HeadersLike;
  readonly query?: QueryLike;
  readonly cookies?: Readonly<Record<string, string | undefined>>;
}

/**
 * What the rules decided. Shared and frozen: never mutate it. {@link NO_DECISION} (`{}`) when no
 * rule matched; otherwise `rule` is the index of the rule that decided and `lane` its lane
 * (`undefined` for a base-lane rule).
 */
export interface EdgeDecision {
  readonly lane?: Lane;
  readonly rule?: number;
  readonly name?: string;
  readonly setHeaders?: Readonly<Record<string, string>>;
  readonly addHeaders?: Readonly<Record<string, string>>;
  readonly removeHeaders?: readonly string[];
}

/** The decision when no rule matched: one shared frozen empty object (compare with `===`). */
export const NO_DECISION: EdgeDecision = Object.freeze({});
