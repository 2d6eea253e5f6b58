import type { HeaderRecord, HeadersLike } from '@graylane/core';
import { parseCookieHeader, parseQueryString } from './request-parsing';
import type { EdgeRequest, QueryLike } from './rule';

/** Index in the stats array: malformed cookies or query pairs skipped. */
const STAT_MALFORMED = 0;
/** Index in the stats array: inputs longer than `maxInputLength` that were not parsed or matched. */
const STAT_OVERSIZE = 1;

export { STAT_MALFORMED, STAT_OVERSIZE };

interface MessageLike {
  readonly method?: string;
  readonly url: string;
  readonly originalUrl?: string;
  readonly headers?: HeaderRecord;
  readonly rawHeaders?: readonly string[];
  readonly socket?: { readonly encrypted?: boolean } | null;
}

/**
 * One request as the rules read it, reset for each `decide()`. Everything but the headers is
 * computed on first use: the path, the parsed query and the parsed cookies. `decide()` is
 * synchronous, so one view per rule set is reused and holds no request after `decide()` returns.
 */
export class RequestView {
  readonly #maxInputLength: number;
  readonly #stats: Float64Array;
  #method: string | undefined;
  #url: string | undefined;
  #plainPath: string | undefined;
  #headers: HeaderRecord | undefined;
  // An IncomingMessage: its raw headers (Node joins repeated headers with ", ") and its socket.
  #message: MessageLike | undefined;
  #fetchHeaders: HeadersLike | undefined;
  #scanHeaders = false;
  #givenQuery: QueryLike | undefined;
  #givenCookies: Readonly<Record<string, string | undefined>> | undefined;
  #path: string | undefined;
  #pathDone = false;
  #query: Map<string, string> | undefined;
  #queryDone = false;
  #cookies: Map<string, string> | undefined;
  #cookiesDone = false;
  // Header values by slot, read once per request: many rules test the same few headers. A slot
  // is current when its generation equals the request's.
  readonly #slotValues: Array<string | undefined>;
  readonly #slotGeneration: Float64Array;
  #generation = 0;

  /** @param slots the number of distinct header names the rules read (see {@link headerAt}). */
  constructor(maxInputLength: number, stats: Float64Array, slots: number) {
    this.#maxInputLength = maxInputLength;
    this.#stats = stats;
    this.#slotValues = new Array<string | undefined>(slots).fill(undefined);
    this.#slotGeneration = new Float64Array(slots);
  }

  /** Points the view at a request: an `IncomingMessage` (anything with a string `url`) or an {@link EdgeRequest}. */
  reset(request: EdgeRequest | MessageLike): void {
    const message = request as MessageLike;
    const url = typeof message.originalUrl === 'string' ? message.originalUrl : message.url;
    if (typeof url === 'string') {
      this.#url = url;
      this.#message = message;
      this.#plainPath = undefined;
      this.#givenQuery = undefined;
      this.#givenCookies = undefined;
      this.#scanHeaders = false;
    } else {
      const plain = request as EdgeRequest;
      this.#url = undefined;
      this.#message = undefined;
      this.#plainPath = typeof plain.path === 'string' ? plain.path : undefined;
      this.#givenQuery = plain.query;
      this.#givenCookies = plain.cookies;
      this.#scanHeaders = true;
    }
    this.#method = typeof request.method === 'string' ? request.method : undefined;
    const headers = request.headers;
    if (headers !== undefined && headers !== null && typeof (headers as HeadersLike).get === 'function') {
      this.#fetchHeaders = headers as HeadersLike;
      this.#headers = undefined;
    } else {
      this.#fetchHeaders = undefined;
      this.#headers = (headers ?? undefined) as HeaderRecord | undefined;
    }
    this.#pathDone = false;
    this.#queryDone = false;
    this.#cookiesDone = false;
    this.#generation++;
  }

  /** Drops every reference to the last request. */
  clear(): void {
    this.#url = undefined;
    this.#message = undefined;
    this.#plainPath = undefined;
    this.#headers = undefined;
    this.#fetchHeaders = undefined;
    this.#givenQuery = undefined;
    this.#givenCookies = undefined;
    this.#path = undefined;
    this.#query = undefined;
    this.#cookies = undefined;
    const values = this.#slotValues;
    for (let i = 0; i < values.length; i++) values[i] = undefined;
  }

  method(): string | undefined {
    return this.#method;
  }

  /** The path without query string or fragment; absolute-form targets lose scheme and authority. */
  path(): string | undefined {
    if (!this.#pathDone) {
      this.#pathDone = true;
      const target = this.#url ?? this.#plainPath;
      if (target === undefined) this.#path = undefined;
      else {
        const start = pathStart(target);
        const end = queryStart(target);
        this.#path = start === 0 && end === target.length ? target : target.slice(start, end);
      }
    }
    return this.#path;
  }

  /** The `:path` pseudo-header: the request target with its query, without scheme, authority or fragment. */
  target(): string | undefined {
    const target = this.#url ?? this.#plainPath;
    if (target === undefined) return undefined;
    const start = pathStart(target);
    const hash = target.indexOf('#', start);
    return start === 0 && hash === -1 ? target : target.slice(start, hash === -1 ? target.length : hash);
  }

  /** The `:authority` pseudo-header: HTTP/2's `:authority`, else `Host`. */
  authority(): string | undefined {
    return this.header(':authority') ?? this.header('host');
  }

  /** The `:scheme` pseudo-header: HTTP/2's `:scheme`, else `https` on a TLS socket and `http` on another. */
  scheme(): string | undefined {
    const given = this.header(':scheme');
    if (given !== undefined) return given;
    const socket = this.#message?.socket;
    if (socket === undefined || socket === null) return undefined;
    return socket.encrypted === true ? 'https' : 'http';
  }

  /** {@link header}, cached in `slot` for the rest of the request. */
  headerAt(slot: number, name: string): string | undefined {
    if (this.#slotGeneration[slot] === this.#generation) return this.#slotValues[slot];
    const value = this.header(name);
    this.#slotValues[slot] = value;
    this.#slotGeneration[slot] = this.#generation;
    return value;
  }

  /**
   * A header's value by lowercase name. Repeated headers are joined with `,` as Envoy and grpc-go
   * match them (`; ` for cookie), also when Node already joined them with `, ` (read back from
   * `rawHeaders`). Fetch `Headers` join with `, ` and cannot be split back.
   */
  header(name: string): string | undefined {
    const fetchHeaders = this.#fetchHeaders;
    if (fetchHeaders !== undefined) {
      const value = fetchHeaders.get(name);
      return value === null ? undefined : value;
    }
    const headers = this.#headers;
    if (headers === undefined) return undefined;
    let value = headers[name];
    if (value === undefined && this.#scanHeaders) value = scanHeader(headers, name);
    if (typeof value === 'string') {
      const raw = this.#message?.rawHeaders;
      return raw !== undefined && name !== 'cookie' && value.includes(', ')
        ? rejoinRaw(raw, name, value)
        : value;
    }
    if (value === undefined) return undefined;
    if (typeof value === 'number') return String(value);
    if (Array.isArray(value))
      return value.length === 0 ? undefined : value.join(name === 'cookie' ? '; ' : ',');
    return undefined;
  }

  queryParam(name: string): string | undefined {
    const given = this.#givenQuery;
    if (given !== undefined) return readGivenQuery(given, name);
    if (!this.#queryDone) this.#parseQuery();
    return this.#query === undefined ? undefined : this.#query.get(name);
  }

  cookie(name: string): string | undefined {
    const given = this.#givenCookies;
    if (given !== undefined) {
      const value = given[name];
      return typeof value === 'string' ? value : undefined;
    }
    if (!this.#cookiesDone) this.#parseCookies();
    return this.#cookies === undefined ? undefined : this.#cookies.get(name);
  }

  /** False (and counted) when `value` is too long to hand to a regex or a hash. */
  bounded(value: string): boolean {
    if (value.length <= this.#maxInputLength) return true;
    this.#stats[STAT_OVERSIZE]!++;
    return false;
  }

  #parseQuery(): void {
    this.#queryDone = true;
    this.#query = undefined;
    const target = this.#url ?? this.#plainPath;
    if (target === undefined) return;
    const q = target.indexOf('?');
    if (q === -1) return;
    let end = target.indexOf('#', q);
    if (end === -1) end = target.length;
    if (end - q - 1 > this.#maxInputLength) {
      this.#stats[STAT_OVERSIZE]!++;
      return;
    }
    const query = new Map<string, string>();
    this.#stats[STAT_MALFORMED]! += parseQueryString(target.slice(q + 1, end), query);
    this.#query = query;
  }

  #parseCookies(): void {
    this.#cookiesDone = true;
    this.#cookies = undefined;
    const header = this.header('cookie');
    if (header === undefined) return;
    if (header.length > this.#maxInputLength) {
      this.#stats[STAT_OVERSIZE]!++;
      return;
    }
    const cookies = new Map<string, string>();
    this.#stats[STAT_MALFORMED]! += parseCookieHeader(header, cookies);
    this.#cookies = cookies;
  }
}

function pathStart(target: string): number {
  if (target.charCodeAt(0) === 47 /* / */) return 0;
  const scheme = target.indexOf('://');
  if (scheme === -1) return 0;
  const slash = target.indexOf('/', scheme + 3);
  return slash === -1 ? target.length : slash;
}

function queryStart(target: string): number {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return target.length;
}

// The values of `name` in an IncomingMessage's rawHeaders joined with `,`; `joined` (Node's own
// join) when the header came once, or rawHeaders is not the [name, value, ...] list it should be.
function rejoinRaw(raw: readonly string[], name: string, joined: string): string {
  let out: string | undefined;
  let count = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (typeof key !== 'string' || !sameHeaderName(key, name)) continue;
    const value = raw[i + 1]!;
    out = count === 0 ? value : `${out},${value}`;
    count++;
  }
  return count > 1 && out !== undefined ? out : joined;
}

// `key` equals the lowercase `name` ignoring ASCII case, without allocating.
function sameHeaderName(key: string, name: string): boolean {
  if (key.length !== name.length) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c | 32 : c) !== name.charCodeAt(i)) return false;
  }
  return true;
}

function scanHeader(headers: HeaderRecord, name: string): HeaderRecord[string] {
  for (const key in headers) {
    if (key.length === name.length && key.toLowerCase() === name) return headers[key];
  }
  return undefined;
}

function readGivenQuery(query: QueryLike, name: string): string | undefined {
  if (typeof (query as { get?: unknown }).get === 'function') {
    const value = (query as { get(name: string): string | null }).get(name);
    return value === null ? undefined : value;
  }
  const value = (query as Readonly<Record<string, string | readonly string[] | undefined>>)[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
