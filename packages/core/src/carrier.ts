/**
 * Reads a key from a carrier (HTTP headers, gRPC metadata, a plain record). Keys are lowercase.
 * Returns `undefined` when absent; multi-valued carriers may return an array.
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

/** Getter for Node `IncomingHttpHeaders` and plain records with lowercase keys. */
export const RECORD_GETTER: CarrierGetter<HeaderRecord> = {
  get(carrier, key) {
    const value = carrier[key];
    if (typeof value === 'number') return String(value);
    return value;
  },
};

/** Minimal shape of a WHATWG `Headers` object (fetch, undici). */
export interface HeadersLike {
  get(name: string): string | null;
}

/** Getter for WHATWG `Headers`. */
export const FETCH_HEADERS_GETTER: CarrierGetter<HeadersLike> = {
  get(carrier, key) {
    return carrier.get(key) ?? undefined;
  },
};

/** First value of a possibly multi-valued read. */
export function firstValue(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 0 ? undefined : value[0];
}
