import { isHttpToken, parseLane } from '@graylane/core';
import { InvalidImportError } from './errors';
import { checkRegexSyntax } from './regex';
import type { Rule, RuleMatch, StickyKey } from './rule';
import { describeValue, isRecord } from './validate';

// Shared by the importers: reading the plain objects a YAML parser gives, with typed errors that
// name the field in the source system's own terms.

export function record(source: string, value: unknown, path: string): Readonly<Record<string, unknown>> {
  if (!isRecord(value))
    throw new InvalidImportError(source, path, `expected an object, got ${describeValue(value)}`);
  return value;
}

export function list(source: string, value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value))
    throw new InvalidImportError(source, path, `expected a list, got ${describeValue(value)}`);
  return value;
}

export function optionalString(source: string, value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw new InvalidImportError(source, path, `expected a string, got ${describeValue(value)}`);
  return value;
}

export function optionalBoolean(source: string, value: unknown, path: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw new InvalidImportError(source, path, `expected true or false, got ${describeValue(value)}`);
  return value;
}

export function headerName(source: string, value: unknown, path: string): string {
  if (!isHttpToken(value)) {
    throw new InvalidImportError(source, path, `${describeValue(value)} is not a header name`);
  }
  return value;
}

/** Checks that `pattern` compiles as RE2 (whole-value matching is applied by the rule). */
export function checkPattern(source: string, pattern: string, path: string): string {
  try {
    checkRegexSyntax(pattern);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'GL_ERR_MISSING_PEER') throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidImportError(source, path, `regular expression not accepted by RE2: ${reason}`, {
      cause: err,
    });
  }
  return pattern;
}

/** A lane from an option or a lane map: `null`/`undefined` is the base lane. */
export function laneOrBase(source: string, value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const lane = parseLane(value);
  if (lane === undefined) throw new InvalidImportError(source, path, `${describeValue(value)} is not a lane`);
  return lane;
}

/**
 * A rule as an importer builds it: the fields of {@link Rule} the importers set, writable while the
 * rule is filled in field by field (an absent field keeps the rule's default).
 *
 * @example
 * const rule: ImportedRule = { lane: 'gray', name: 'canary-weight' };
 * rule.weight = 30;
 */
export interface ImportedRule {
  lane?: string;
  name: string;
  matches?: RuleMatch[];
  weight?: number;
  sticky?: Rule['sticky'];
  setHeaders?: Record<string, string>;
  addHeaders?: Record<string, string>;
  removeHeaders?: string[];
}

/** The `sticky` option every importer passes through to its weighted rules (validated by compileRules). */
export interface ImportStickyOption {
  /** Make weighted rules sticky on this key instead of drawing at random (the source systems draw at random). */
  readonly sticky?: StickyKey | undefined;
}

/** A weight rounded to a clean decimal so that 100 * 1 / 3 does not print as 33.333333333333336. */
export function share(numerator: number, denominator: number): number {
  if (numerator >= denominator) return 100;
  return Math.round((numerator / denominator) * 100 * 1e9) / 1e9;
}
