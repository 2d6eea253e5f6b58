/**
 * Reads a key from a carrier (HTTP headers, gRPC metadata, a plain record). Keys are lowercase.
 * Returns `undefined` when absent; multi-valued carriers may return an array. Ingress tolerates
 * a getter that returns anything else or throws: the value is ignored and counted (`type`,
 * `unreadable`), never thrown.
 */
export interface CarrierGetter<C> {
  get(carrier: C, key: string): string | readonly string[] | undefined;
}

/** Writes a key into a carrier. Keys are lowercase. */
export interface CarrierSetter<C> {
  set(carrier: C, key: string, value: string): void;
}

/** Node's `IncomingHttpHeaders` and any record keyed by lowercase header name. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/**
 * Getter for Node `IncomingHttpHeaders` and plain records with lowercase keys. The key is looked
 * up, never searched for: a key in another case (`X-Mse-Tag`) is not read, whatever the number of
 * keys. A finite number is read as its decimal string; an inherited property (`constructor`) is
 * absent; any other value is returned as it is, for ingress to reject.
 */
export const RECORD_GETTER: CarrierGetter<HeaderRecord> = {
  get(carrier, key) {
    const value = carrier[key];
    if (typeof value === 'string' || value === undefined) return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (!Object.hasOwn(carrier, key)) return undefined;
    // Not a string after all (NaN, null, an object...): handed on for ingress to count as `type`.
    return value as readonly string[];
  },
};

/** Minimal shape of a WHATWG `Headers` object (fetch, undici). */
export interface HeadersLike {
  get(name: string): string | null;
}

/** Getter for WHATWG `Headers` (and anything with a `get(name)`, such as a `Map`); `null` is absent. */
export const FETCH_HEADERS_GETTER: CarrierGetter<HeadersLike> = {
  get(carrier, key) {
    return carrier.get(key) ?? undefined;
  },
};

/**
 * First value of a possibly multi-valued read: the string, or the first element of an array when
 * it is a string; `undefined` for anything else. Never throws on arrays it can read.
 *
 * @example
 * firstValue(['a', 'b']); // 'a'
 * firstValue(null);       // undefined
 */
export function firstValue(value: string | readonly string[] | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const first: unknown = value[0];
  return typeof first === 'string' ? first : undefined;
}
