import { readBaggage } from './baggage';
import {
  type CarrierGetter,
  FETCH_HEADERS_GETTER,
  firstValue,
  type HeaderRecord,
  type HeadersLike,
  RECORD_GETTER,
} from './carrier';
import { LANE_BAGGAGE_KEY, LANE_HEADER, MAX_CARRY_VALUE_LENGTH, MAX_LANE_LENGTH } from './constants';
import { countInvalidTag } from './counters';
import type { InvalidTagMessage } from './diagnostics';
import { InvalidOptionError } from './errors';
import {
  compileSource,
  compileValues,
  headerName,
  INGRESS_OPTION_KEYS,
  MAX_SOURCE_VALUE_LENGTH,
} from './internal/ingress-options';
import { type FieldFailure, shownValue, singleValue } from './internal/tag-field';
import { type Lane, parseLane } from './lane';
import { assertKnownOptions } from './options';

/** A header (or metadata key) that names a lane, optionally through a value -> lane map. */
export interface LaneSource {
  /** Header or metadata key, case-insensitive. */
  readonly key: string;
  /**
   * Value -> lane map, e.g. `{ '200': 'gray' }` for the Istio `version` header. With a map, a value
   * that is not in it is ignored (counted as `unmapped`); without one the value must be a lane tag.
   */
  readonly values?: Readonly<Record<string, Lane>> | undefined;
}

/** Where ingress looks for a lane. Every field is optional. */
export interface IngressOptions {
  /** The lane header. Default `x-mse-tag`. Ignored when `sources` is given. */
  readonly header?: string | undefined;
  /** Keys tried in order, each a name or a {@link LaneSource}. Default `[header]`. */
  readonly sources?: ReadonlyArray<string | LaneSource> | undefined;
  /** Key of the lane entry in W3C `baggage`, tried after `sources`; `false` ignores baggage. Default `x-mse-tag`. */
  readonly baggageKey?: string | false | undefined;
  /** Value -> lane map for the baggage entry (same rules as {@link LaneSource.values}). */
  readonly baggageValues?: Readonly<Record<string, Lane>> | undefined;
  /** Extra request headers carried downstream like the lane (e.g. `x-user-id`, `x-request-id`). Default none. */
  readonly carry?: readonly string[] | undefined;
}

/** Reads a lane from a carrier. Never throws; invalid input is ignored and counted. */
export type LaneExtractor<C> = (carrier: C) => Lane | undefined;

/** One compiled source: its lowercase key and its value map, if any. */
export interface CompiledSource {
  readonly key: string;
  readonly values: ReadonlyMap<string, Lane> | undefined;
}

/** Options compiled once: names lowercased, maps validated. */
export interface CompiledIngress {
  readonly sources: readonly CompiledSource[];
  readonly baggage: CompiledSource | undefined;
  /** Lowercase names of carried headers, or `undefined` when none. */
  readonly carry: readonly string[] | undefined;
}

/**
 * Validates and compiles ingress options once, at setup.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` naming the bad field, or an unknown one
 *   (a misspelt `heder`, or `value` for `values`, would otherwise silently read the default).
 */
export function compileIngress(options: IngressOptions = {}): CompiledIngress {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'must be an object');
  }
  assertKnownOptions('compileIngress()', options, INGRESS_OPTION_KEYS);
  // `header` is checked even when `sources` (which wins) is given: a typo should not pass silently.
  const header = compileSource(options.header ?? LANE_HEADER, 'header');
  let sources: CompiledSource[];
  if (options.sources === undefined) {
    sources = [header];
  } else if (Array.isArray(options.sources)) {
    sources = options.sources.map((source, i) => compileSource(source, `sources[${i}]`));
  } else {
    throw new InvalidOptionError('sources', 'must be an array');
  }
  let baggage: CompiledSource | undefined;
  const baggageKey = options.baggageKey ?? LANE_BAGGAGE_KEY;
  if (baggageKey !== false) {
    // Baggage keys are case-sensitive (W3C): checked as a token, the configured spelling is kept.
    headerName(baggageKey, 'baggageKey');
    baggage = { key: baggageKey, values: compileValues(options.baggageValues, 'baggageValues') };
  } else if (options.baggageValues !== undefined) {
    throw new InvalidOptionError('baggageValues', 'needs baggageKey (it is false)');
  }
  let carry: string[] | undefined;
  if (options.carry !== undefined) {
    if (!Array.isArray(options.carry))
      throw new InvalidOptionError('carry', 'must be an array of header names');
    carry = options.carry.map((name, i) => headerName(name, `carry[${i}]`));
    if (carry.length === 0) carry = undefined;
  }
  return { sources, baggage, carry };
}

/**
 * Reads the lane from a carrier with compiled options: each source in order, then baggage.
 * An invalid value is counted and the next source is tried. Never throws on request input: a
 * value of the wrong type is counted as `type`, a getter or Proxy that throws as `unreadable`.
 *
 * Within one source, repeated values (an array, or a comma list as Node joins repeated headers)
 * must all say the same thing, else the source is a `conflict`; SP and HTAB around a value are
 * ignored, nothing else is trimmed. See {@link IngressOptions} for the order between sources.
 */
export function extractLane<C>(
  carrier: C,
  getter: CarrierGetter<C>,
  compiled: CompiledIngress,
  kind: InvalidTagMessage['carrier'] = 'header',
): Lane | undefined {
  const sources = compiled.sources;
  for (let i = 0; i < sources.length; i++) {
    const lane = laneFromSource(carrier, getter, sources[i]!, kind);
    if (lane !== undefined) return lane;
  }
  const baggage = compiled.baggage;
  return baggage === undefined ? undefined : laneFromBaggage(carrier, getter, baggage);
}

function laneFromSource<C>(
  carrier: C,
  getter: CarrierGetter<C>,
  source: CompiledSource,
  kind: InvalidTagMessage['carrier'],
): Lane | undefined {
  let raw: unknown;
  let value: string | FieldFailure | undefined;
  try {
    raw = getter.get(carrier, source.key);
    value = singleValue(raw);
  } catch {
    countInvalidTag(kind, source.key, 'unreadable', '');
    return undefined;
  }
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    countInvalidTag(kind, source.key, value.failure, shownValue(raw));
    return undefined;
  }
  return resolveValue(value, source, kind);
}

function laneFromBaggage<C>(carrier: C, getter: CarrierGetter<C>, baggage: CompiledSource): Lane | undefined {
  let header: unknown;
  try {
    header = getter.get(carrier, 'baggage');
  } catch {
    countInvalidTag('baggage', baggage.key, 'unreadable', '');
    return undefined;
  }
  if (header === undefined) return undefined;
  // readBaggage takes any value and never throws: a wrong type comes back as `type`.
  const read = readBaggage(header as string, baggage.key);
  if (!read.ok) {
    countInvalidTag('baggage', baggage.key, read.reason, shownValue(header));
    return undefined;
  }
  return read.value === undefined ? undefined : resolveValue(read.value, baggage, 'baggage');
}

function resolveValue(
  raw: string,
  source: CompiledSource,
  kind: InvalidTagMessage['carrier'],
): Lane | undefined {
  const values = source.values;
  if (values !== undefined) {
    if (raw.length > MAX_SOURCE_VALUE_LENGTH) {
      countInvalidTag(kind, source.key, 'oversize', raw);
      return undefined;
    }
    const mapped = values.get(raw);
    if (mapped === undefined) countInvalidTag(kind, source.key, 'unmapped', raw);
    return mapped;
  }
  if (raw.length > MAX_LANE_LENGTH) {
    countInvalidTag(kind, source.key, 'oversize', raw);
    return undefined;
  }
  const lane = parseLane(raw);
  if (lane === undefined) countInvalidTag(kind, source.key, 'grammar', raw);
  return lane;
}

/**
 * Reads the carried headers (see {@link IngressOptions.carry}) present on a carrier: the first
 * value of each, when it is a string of at most `MAX_CARRY_VALUE_LENGTH` characters. Anything else
 * is skipped; never throws on request input. (Outbound propagation checks the characters and
 * counts what it cannot write as `dropped`.)
 * Returns `undefined` when none is present, so the base case allocates nothing.
 */
export function extractCarry<C>(
  carrier: C,
  getter: CarrierGetter<C>,
  compiled: CompiledIngress,
): Array<[string, string]> | undefined {
  const names = compiled.carry;
  if (names === undefined) return undefined;
  let carry: Array<[string, string]> | undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    let value: string | undefined;
    try {
      value = firstValue(getter.get(carrier, name));
    } catch {
      continue;
    }
    if (value === undefined || value.length > MAX_CARRY_VALUE_LENGTH) continue;
    if (carry === undefined) carry = [];
    carry.push([name, value]);
  }
  return carry;
}

const DEFAULT_COMPILED = compileIngress();
const compiledByOptions = new WeakMap<IngressOptions, CompiledIngress>();

function compiledFor(options: IngressOptions | undefined): CompiledIngress {
  if (options === undefined) return DEFAULT_COMPILED;
  let compiled = compiledByOptions.get(options);
  if (compiled === undefined) {
    compiled = compileIngress(options);
    compiledByOptions.set(options, compiled);
  }
  return compiled;
}

/**
 * Reads the lane of an inbound request from its headers: the configured header (default
 * `x-mse-tag`), then the W3C `baggage` entry. Accepts Node `IncomingHttpHeaders`, a plain record
 * with lowercase keys, or WHATWG `Headers` (anything with a `get(name)`, such as a `Map`). A
 * source gives a lane only when all its values agree (`gray, gray`); different values are a
 * `conflict`. Invalid, oversized, conflicting, wrongly typed or unreadable values are ignored and
 * counted (`graylane:ingress:invalid-tag`), and the next source is read; this never throws on
 * request input (docs/guarantees.md). Options are compiled once per options object.
 *
 * @throws {InvalidOptionError} only for malformed `options`.
 * @example
 * laneFromHeaders({ 'x-mse-tag': 'gray' });                          // 'gray'
 * laneFromHeaders({ baggage: 'x-mse-tag=gray' });                    // 'gray'
 * laneFromHeaders({ version: '200' }, { sources: [{ key: 'version', values: { '200': 'gray' } }] }); // 'gray'
 * laneFromHeaders({ 'x-mse-tag': 'gray, blue' });                   // undefined, counted as 'conflict'
 */
export function laneFromHeaders(
  headers: HeaderRecord | HeadersLike,
  options?: IngressOptions,
): Lane | undefined {
  const compiled = compiledFor(options);
  if (typeof headers !== 'object' || headers === null) {
    countInvalidTag('header', CARRIER_KEY, 'type', shownValue(headers));
    return undefined;
  }
  let isHeaders: boolean;
  try {
    isHeaders = typeof (headers as HeadersLike).get === 'function';
  } catch {
    countInvalidTag('header', CARRIER_KEY, 'unreadable', '');
    return undefined;
  }
  if (isHeaders) return extractLane(headers as HeadersLike, FETCH_HEADERS_GETTER, compiled);
  return extractLane(headers as HeaderRecord, RECORD_GETTER, compiled);
}

// The key reported when the carrier itself, not one of its values, cannot be read.
const CARRIER_KEY = '(headers)';
