import { InvalidOptionError, type Lane, parseLane } from '@graylane/core';
import { describeValue, isRecord } from './validate';

/**
 * What to do with a lane tag the client sent itself (`x-mse-tag`, a `baggage` entry):
 *
 * | policy | effect |
 * |---|---|
 * | `'accept'` | keep any valid tag (internal services; their callers are trusted) |
 * | `{ allowlist: [...] }` | keep listed lanes only; strip the rest |
 * | `'strip'` | strip every tag: only rules assign lanes (the edge default, so no outside client can walk into an unreleased lane) |
 */
export type TrustPolicy = 'accept' | 'strip' | { readonly allowlist: readonly Lane[] };

/** A validated {@link TrustPolicy}. */
export class CompiledTrust {
  readonly mode: 'accept' | 'strip' | 'allowlist';
  readonly #allow: ReadonlySet<string> | null;

  /** @internal Use {@link compileTrust}. */
  constructor(mode: 'accept' | 'strip' | 'allowlist', allow: ReadonlySet<string> | null) {
    this.mode = mode;
    this.#allow = allow;
  }

  /** Whether a (valid) client-sent lane may be kept. */
  admits(lane: Lane): boolean {
    if (this.mode === 'accept') return true;
    return this.#allow?.has(lane) === true;
  }
}

/**
 * Validates a trust policy once, at setup.
 *
 * @param fallback the policy when `policy` is `undefined` (`'strip'` at an edge, `'accept'` inside).
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` naming `path` (default `trust`).
 * @example
 * compileTrust({ allowlist: ['qa'] }, 'strip').admits('qa'); // true
 */
export function compileTrust(
  policy: TrustPolicy | undefined,
  fallback: 'accept' | 'strip',
  path = 'trust',
): CompiledTrust {
  const value = policy ?? fallback;
  if (value === 'accept' || value === 'strip') return new CompiledTrust(value, null);
  if (!isRecord(value) || !Array.isArray(value.allowlist) || Object.keys(value).length !== 1) {
    throw new InvalidOptionError(
      path,
      `expected 'accept', 'strip' or { allowlist: [lanes] }, got ${describeValue(value)}`,
    );
  }
  const allow = new Set<string>();
  const allowlist = value.allowlist as unknown[];
  for (let i = 0; i < allowlist.length; i++) {
    const lane = allowlist[i];
    if (parseLane(lane) === undefined) {
      throw new InvalidOptionError(`${path}.allowlist[${i}]`, `${describeValue(lane)} is not a lane`);
    }
    allow.add(lane as string);
  }
  return new CompiledTrust('allowlist', allow);
}
