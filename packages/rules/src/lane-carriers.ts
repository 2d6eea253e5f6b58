import {
  compileIngress,
  type IngressOptions,
  InvalidOptionError,
  LANE_BAGGAGE_KEY,
  LANE_HEADER,
  type Lane,
} from '@graylane/core';

/** One header that carries the lane, and how a lane is spelled in it. */
interface CarrierHeader {
  /** Lowercase header name. */
  readonly name: string;
  /** Lane -> the value that says it (a source with a value map); null: the lane itself. */
  readonly spell: ReadonlyMap<Lane, string> | null;
}

/** One key of W3C `baggage` that carries the lane. */
interface CarrierKey {
  /** The key as configured (W3C keys are case-sensitive), used when writing. */
  readonly key: string;
  /** Lowercased, used when removing: a case variant is removed too. */
  readonly lower: string;
  readonly spell: ReadonlyMap<Lane, string> | null;
}

/**
 * Every place of a request that can carry a lane, compiled once at setup by
 * {@link compileLaneCarriers}: the lane header, each source header of the ingress options (with its
 * value map), and the lane keys of W3C `baggage` (the configured key and always the default
 * `x-mse-tag`, which services with default options read).
 *
 * @example
 * const carriers = compileLaneCarriers({ header: 'x-lane' });
 * carriers.header; // 'x-lane'
 */
export class LaneCarriers {
  /** The lane header (lowercase), where the decided lane is written. */
  readonly header: string;
  /** @internal */
  readonly headers: readonly CarrierHeader[];
  /** @internal */
  readonly baggage: readonly CarrierKey[];
  // Lowercase names of every carrier header plus `baggage`, and their lengths, to find them in
  // raw (case-preserving) header lists without lowercasing every name.
  readonly #names: ReadonlySet<string>;
  readonly #lengths: Uint8Array;

  /** @internal Use {@link compileLaneCarriers}. */
  constructor(header: string, headers: readonly CarrierHeader[], baggage: readonly CarrierKey[]) {
    this.header = header;
    this.headers = headers;
    this.baggage = baggage;
    const names = new Set(headers.map((h) => h.name));
    names.add('baggage');
    this.#names = names;
    let longest = 0;
    for (const name of names) longest = Math.max(longest, name.length);
    this.#lengths = new Uint8Array(longest + 1);
    for (const name of names) this.#lengths[name.length] = 1;
  }

  /** The lowercase carrier name `name` (any case) stands for, or undefined. */
  carrierName(name: string): string | undefined {
    if (name.length >= this.#lengths.length || this.#lengths[name.length] !== 1) return undefined;
    const lower = name.toLowerCase();
    return this.#names.has(lower) ? lower : undefined;
  }
}

/**
 * Compiles where a lane can be carried, from the same ingress options the edge reads client tags
 * with (`header`, `sources`, `baggageKey`, `baggageValues`).
 *
 * @param ingress core's `IngressOptions`. Default `{}`: the `x-mse-tag` header and the `x-mse-tag`
 *   baggage entry.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options.
 * @example
 * const carriers = compileLaneCarriers({ sources: ['x-mse-tag', { key: 'version', values: { '200': 'gray' } }] });
 * setLaneCarriers(req.headers, 'gray', carriers); // x-mse-tag: gray, version: 200, baggage entry rewritten
 */
export function compileLaneCarriers(ingress: IngressOptions = {}): LaneCarriers {
  const compiled = compileIngress(ingress);
  const header = (ingress.header ?? LANE_HEADER).toLowerCase();
  const headers: CarrierHeader[] = [{ name: header, spell: null }];
  for (const source of compiled.sources) {
    if (headers.some((h) => h.name === source.key)) {
      if (source.key === header && source.values !== undefined) {
        throw new InvalidOptionError(
          'ingress.sources',
          `the lane header ${header} carries the lane itself; it cannot also be a source with a value map`,
        );
      }
      continue;
    }
    headers.push({ name: source.key, spell: spelling(source.values) });
  }
  const baggage: CarrierKey[] = [];
  if (compiled.baggage !== undefined) {
    const key = compiled.baggage.key;
    baggage.push({ key, lower: key.toLowerCase(), spell: spelling(compiled.baggage.values) });
  }
  if (!baggage.some((b) => b.lower === LANE_BAGGAGE_KEY)) {
    baggage.push({ key: LANE_BAGGAGE_KEY, lower: LANE_BAGGAGE_KEY, spell: null });
  }
  return new LaneCarriers(header, headers, baggage);
}

// The first value each lane is mapped from: how that lane is said in a mapped carrier.
function spelling(values: ReadonlyMap<string, Lane> | undefined): ReadonlyMap<Lane, string> | null {
  if (values === undefined) return null;
  const spell = new Map<Lane, string>();
  for (const [value, lane] of values) if (!spell.has(lane)) spell.set(lane, value);
  return spell;
}

function spell(carrier: CarrierHeader | CarrierKey, lane: Lane | undefined): string | undefined {
  if (lane === undefined) return undefined;
  return carrier.spell === null ? lane : carrier.spell.get(lane);
}

/**
 * Header record as Node (`IncomingHttpHeaders`, `headersDistinct`) and Fastify hand it out:
 * lowercase keys.
 *
 * @example
 * const headers: LaneCarrierRecord = req.headers;
 */
export type LaneCarrierRecord = Record<string, string | string[] | number | undefined>;

/**
 * Makes every lane carrier of a header record say `lane` — or nothing, for the base lane — so a
 * client cannot smuggle a lane past the edge in a second carrier. Mutates `headers` in place:
 *
 * - the lane header is set to `lane` (removed for the base lane);
 * - each other source header says `lane` (through its value map: the first value mapped to it),
 *   or is removed when it cannot;
 * - in W3C `baggage`, every member whose key names a lane carrier — compared after trimming,
 *   percent-decoding and lowercasing, so that no baggage parser can read a lane from it — is
 *   removed; when one was there and `lane` is set, one `key=lane` member per lane key is appended.
 *   Other members stay exactly as sent; an emptied header is removed.
 *
 * A value that is an array (a `headersDistinct`-style record) is written as a one-element array.
 * Returns true when a carrier the client sent said something else. Never throws on request
 * input. Linear in the size of the carriers.
 *
 * @example
 * const headers = { 'x-mse-tag': 'gray', baggage: 'userId=1,x-mse-tag=feature-x' };
 * setLaneCarriers(headers, 'gray', compileLaneCarriers());
 * // { 'x-mse-tag': 'gray', baggage: 'userId=1,x-mse-tag=gray' }
 */
export function setLaneCarriers(
  headers: LaneCarrierRecord,
  lane: Lane | undefined,
  carriers: LaneCarriers,
): boolean {
  let changed = false;
  const list = carriers.headers;
  for (let i = 0; i < list.length; i++) {
    const carrier = list[i]!;
    const value = spell(carrier, lane);
    const current = headers[carrier.name];
    if (value === undefined) {
      if (current === undefined) continue;
      delete headers[carrier.name];
      changed = true;
    } else if (Array.isArray(current)) {
      if (current.length === 1 && current[0] === value) continue;
      headers[carrier.name] = [value];
      changed = current.length > 0 || changed;
    } else if (current !== value) {
      headers[carrier.name] = value;
      // Writing the decided lane where the client sent nothing is no change of what it said.
      changed = current !== undefined || changed;
    }
  }
  const raw = headers.baggage;
  if (raw === undefined) return changed;
  const text = typeof raw === 'string' ? raw : Array.isArray(raw) ? joinStrings(raw) : undefined;
  if (text === undefined) {
    // Not a header value at all: nothing downstream could read it the same way. It goes.
    delete headers.baggage;
    return true;
  }
  const rewritten = rewriteBaggage(text, lane, carriers);
  if (rewritten === text) return changed;
  if (rewritten === undefined) delete headers.baggage;
  else headers.baggage = Array.isArray(raw) ? [rewritten] : rewritten;
  return true;
}

function joinStrings(values: readonly unknown[]): string | undefined {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'string') return undefined;
  return values.join(',');
}

/**
 * `text` (a `baggage` header value) with its lane members removed (read as {@link setLaneCarriers}
 * reads them) and, when one was there and `lane` is set, one `key=lane` member per lane key
 * appended. Returns `text` itself when it holds no lane member, and `undefined` when nothing is
 * left. Never throws.
 *
 * @example
 * rewriteBaggage('userId=1,X-MSE-TAG=feature-x', 'gray', compileLaneCarriers()); // 'userId=1,x-mse-tag=gray'
 * rewriteBaggage('x-mse-tag=feature-x', undefined, compileLaneCarriers());       // undefined
 */
export function rewriteBaggage(
  text: string,
  lane: Lane | undefined,
  carriers: LaneCarriers,
): string | undefined {
  let kept: string[] | null = null;
  let start = 0;
  const length = text.length;
  while (start <= length) {
    let end = text.indexOf(',', start);
    if (end === -1) end = length;
    const member = text.slice(start, end);
    if (isLaneMember(member, carriers)) {
      if (kept === null) kept = start === 0 ? [] : text.slice(0, start - 1).split(',');
    } else if (kept !== null) kept.push(member);
    start = end + 1;
  }
  if (kept === null) return text;
  if (lane !== undefined) {
    const keys = carriers.baggage;
    for (let i = 0; i < keys.length; i++) {
      const value = spell(keys[i]!, lane);
      if (value !== undefined) kept.push(`${keys[i]!.key}=${encodeURIComponent(value)}`);
    }
  }
  let empty = true;
  for (let i = 0; i < kept.length && empty; i++) empty = kept[i]!.trim().length === 0;
  return empty ? undefined : kept.join(',');
}

// Whether a baggage member's key names a lane carrier, read as liberally as any parser would:
// the key ends at the first `=` or `;`, surrounding whitespace of any kind goes (OpenTelemetry
// trims with String#trim), percent-escapes are decoded (OpenTelemetry decodes keys), case is
// ignored.
function isLaneMember(member: string, carriers: LaneCarriers): boolean {
  let end = member.length;
  for (let i = 0; i < member.length; i++) {
    const c = member.charCodeAt(i);
    if (c === 61 /* = */ || c === 59 /* ; */) {
      end = i;
      break;
    }
  }
  let key = member.slice(0, end).trim();
  if (key.includes('%')) {
    try {
      key = decodeURIComponent(key).trim();
    } catch {
      // Not decodable: no parser reads it as a key.
    }
  }
  const lower = key.toLowerCase();
  const keys = carriers.baggage;
  for (let i = 0; i < keys.length; i++) if (keys[i]!.lower === lower) return true;
  return false;
}
