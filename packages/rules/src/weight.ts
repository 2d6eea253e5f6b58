import { isHttpToken } from '@graylane/core';
import { COOKIE, HEADER, QUERY } from './condition';
import { InvalidRuleError } from './errors';
import type { RequestView } from './request-view';
import { stickyPoint, stickySeed } from './sticky-hash';
import { checkKeys, describeValue, isRecord } from './validate';

/** The key a sticky rule hashes: where to read it and the seed of its salt. */
export class CompiledSticky {
  constructor(
    readonly source: number,
    readonly key: string,
    readonly seed: number,
  ) {}
}

/** Validates `weight`: a finite number in 0..100 (default 100). */
export function compileWeightValue(raw: unknown, path: string): number {
  if (raw === undefined) return 100;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > 100) {
    throw new InvalidRuleError(path, `expected a number from 0 to 100, got ${describeValue(raw)}`);
  }
  return raw;
}

const STICKY_KEYS = ['header', 'cookie', 'query', 'salt'];

/** Validates `sticky` (for every rule, even one whose weight makes it unused: mistakes surface at load). */
export function compileSticky(raw: unknown, path: string, defaultSalt: string): CompiledSticky | null {
  if (raw === undefined) return null;
  if (!isRecord(raw))
    throw new InvalidRuleError(path, `expected { header | cookie | query: name }, got ${describeValue(raw)}`);
  checkKeys(raw, STICKY_KEYS, path);
  let source = -1;
  let key = '';
  for (const [field, kind] of [
    ['header', HEADER],
    ['cookie', COOKIE],
    ['query', QUERY],
  ] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (source !== -1)
      throw new InvalidRuleError(`${path}.${field}`, 'give exactly one of header, cookie, query');
    if (typeof value !== 'string' || value.length === 0 || (kind === HEADER && !isHttpToken(value))) {
      throw new InvalidRuleError(`${path}.${field}`, `expected a ${field} name, got ${describeValue(value)}`);
    }
    source = kind;
    key = kind === HEADER ? value.toLowerCase() : value;
  }
  if (source === -1) throw new InvalidRuleError(path, 'give exactly one of header, cookie, query');
  const salt = raw.salt ?? defaultSalt;
  if (typeof salt !== 'string')
    throw new InvalidRuleError(`${path}.salt`, `expected a string, got ${describeValue(salt)}`);
  return new CompiledSticky(source, key, stickySeed(salt));
}

/**
 * Whether this request falls within `weight` percent. A sticky draw hashes the key; a request
 * without the key (or with an oversized one) draws at random like a non-sticky rule.
 */
export function wins(
  weight: number,
  sticky: CompiledSticky | null,
  view: RequestView,
  random: () => number,
): boolean {
  if (sticky !== null) {
    const key =
      sticky.source === HEADER
        ? view.header(sticky.key)
        : sticky.source === COOKIE
          ? view.cookie(sticky.key)
          : view.queryParam(sticky.key);
    if (key !== undefined && key.length > 0 && view.bounded(key))
      return stickyPoint(sticky.seed, key) < weight;
  }
  return random() * 100 < weight;
}
