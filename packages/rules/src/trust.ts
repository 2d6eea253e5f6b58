import { type CompiledIngress, InvalidOptionError, type Lane, parseLane } from '@graylane/core';
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

type MutableHeaders = Record<string, string | string[] | number | undefined>;

/**
 * Removes the lane tag a client sent from Node request headers (mutated in place): every header
 * `ingress` reads a lane from, and the lane entry of W3C `baggage` (other baggage entries stay).
 * Proxies that re-send `req.headers` then forward no client tag. Returns true when it removed one.
 *
 * @example
 * stripLaneTags(req.headers, compileIngress()); // drops x-mse-tag and baggage's x-mse-tag entry
 */
export function stripLaneTags(headers: MutableHeaders, ingress: CompiledIngress): boolean {
  let removed = false;
  const sources = ingress.sources;
  for (let i = 0; i < sources.length; i++) {
    const key = sources[i]!.key;
    if (headers[key] !== undefined) {
      delete headers[key];
      removed = true;
    }
  }
  const baggage = ingress.baggage;
  if (baggage === undefined) return removed;
  const raw = headers.baggage;
  if (raw === undefined) return removed;
  const value = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join(',') : String(raw);
  if (!value.includes(baggage.key)) return removed;
  const kept = value.split(',').filter((member) => baggageKey(member) !== baggage.key);
  const rewritten = kept.join(',');
  if (rewritten.length === value.length) return removed;
  if (kept.every((member) => member.trim().length === 0)) delete headers.baggage;
  else headers.baggage = rewritten;
  return true;
}

function baggageKey(member: string): string {
  let end = member.length;
  const eq = member.indexOf('=');
  if (eq !== -1) end = eq;
  const semi = member.indexOf(';');
  if (semi !== -1 && semi < end) end = semi;
  return member.slice(0, end).trim();
}
