import type { HeaderRecord, HeadersLike } from '@graylane/core';
import { parseCookieHeader, parseQueryString } from './request-parsing';
import type { EdgeRequest, QueryLike } from './rule';

/** Index in the stats array: malformed cookies or query pairs skipped. */
const STAT_MALFORMED = 0;
/** Index in the stats array: inputs longer than `maxInputLength` that were not parsed or matched. */
const STAT_OVERSIZE = 1;
/** Index in the stats array: request fields of the wrong type (a `null` query, a number as headers, ...) ignored. */
const STAT_INVALID = 2;

export { STAT_INVALID, STAT_MALFORMED, STAT_OVERSIZE };

type HeaderValue = HeaderRecord[string];

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
  // For plain records, whose keys may be in any case: the values of the header names the rules
  // read, found in ONE pass over the keys on the first miss of a request, however many names the
  // rules read (`#foldedDone`). Keys whose length is no name's length are skipped without
  // lowercasing them.
  readonly #nameIndex: ReadonlyMap<string, number>;
  readonly #nameLengths: Uint8Array;
  readonly #foldedValues: HeaderValue[];
  #foldedDone = false;
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

  /**
   * @param slots the number of distinct header names the conditions read (see {@link headerAt}).
   * @param names every lowercase header name {@link header} may be asked for.
   */
  constructor(maxInputLength: number, stats: Float64Array, slots: number, names: readonly string[]) {
    this.#maxInputLength = maxInputLength;
    this.#stats = stats;
    this.#nameIndex = new Map(names.map((name, i) => [name, i]));
    let longest = 0;
    for (const name of names) longest = Math.max(longest, name.length);
    this.#nameLengths = new Uint8Array(longest + 1);
    for (const name of names) this.#nameLengths[name.length] = 1;
    this.#foldedValues = new Array<HeaderValue>(names.length).fill(undefined);
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
      this.#plainPath = this.#typed(plain.path, 'string') as string | undefined;
      this.#givenQuery = this.#typed(plain.query, 'object') as QueryLike | undefined;
      this.#givenCookies = this.#typed(plain.cookies, 'object') as EdgeRequest['cookies'];
      this.#scanHeaders = true;
    }
    this.#method = this.#typed(request.method, 'string') as string | undefined;
    const headers = this.#typed(request.headers, 'object');
    if (headers !== undefined && typeof (headers as HeadersLike).get === 'function') {
      this.#fetchHeaders = headers as HeadersLike;
      this.#headers = undefined;
    } else {
      this.#fetchHeaders = undefined;
      this.#headers = headers as HeaderRecord | undefined;
    }
    this.#foldedDone = false;
    this.#pathDone = false;
    this.#queryDone = false;
    this.#cookiesDone = false;
    this.#generation++;
  }

  /** `value` when it has the type (`'object'`: not null), else `undefined`, counted unless absent. */
  #typed(value: unknown, type: 'string' | 'object'): unknown {
    if (value === undefined) return undefined;
    if (typeof value === type && value !== null) return value;
    this.#stats[STAT_INVALID]!++;
    return undefined;
  }

  /** A value read from a given query or cookies record: a string, else undefined (counted unless absent). */
  #given(value: unknown): string | undefined {
    if (typeof value === 'string') return value;
    if (value !== undefined && value !== null) this.#stats[STAT_INVALID]!++;
    return undefined;
  }

  /** Counts one request field of the wrong type. */
  invalid(): void {
    this.#stats[STAT_INVALID]!++;
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
    if (this.#foldedDone) {
      this.#foldedDone = false;
      this.#foldedValues.fill(undefined);
    }
  }

  method(): string | undefined {
    return this.#method;
  }

  /**
   * The path without query string or fragment, as Node's `url.parse` and WHATWG URL split it (and
   * so Express's `req.path`): it ends at the first `?` or `#`; an absolute-form target loses its
   * scheme and authority, and an empty path there is `/`.
   */
  path(): string | undefined {
    if (!this.#pathDone) {
      this.#pathDone = true;
      const target = this.#url ?? this.#plainPath;
      if (target === undefined) this.#path = undefined;
      else {
        const start = pathStart(target);
        const end = pathEnd(target, start);
        if (start === 0 && end === target.length) this.#path = target;
        else if (start === end && start > 0) this.#path = '/';
        else this.#path = target.slice(start, end);
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
   * `rawHeaders`). Fetch `Headers` join with `, ` and cannot be split back. A value that is not a
   * string, a number or an array of strings is ignored and counted.
   */
  header(name: string): string | undefined {
    const fetchHeaders = this.#fetchHeaders;
    if (fetchHeaders !== undefined) {
      const value = fetchHeaders.get(name);
      if (value === null || value === undefined) return undefined;
      if (typeof value === 'string') return value;
      this.#stats[STAT_INVALID]!++;
      return undefined;
    }
    const headers = this.#headers;
    if (headers === undefined) return undefined;
    let value = headers[name];
    if (value === undefined && this.#scanHeaders) value = this.#foldedHeader(headers, name);
    if (typeof value === 'string') {
      const raw = this.#message?.rawHeaders;
      return raw !== undefined && name !== 'cookie' && value.includes(', ')
        ? rejoinRaw(raw, name, value)
        : value;
    }
    if (value === undefined) return undefined;
    if (typeof value === 'number') return String(value);
    if (Array.isArray(value)) return joinValues(value, name, this.#stats);
    this.#stats[STAT_INVALID]!++;
    return undefined;
  }

  /** The value of a header whose key is not lowercase in `headers` (a plain record), or undefined. */
  #foldedHeader(headers: HeaderRecord, name: string): HeaderValue {
    const index = this.#nameIndex.get(name);
    if (index === undefined) return undefined;
    const values = this.#foldedValues;
    if (!this.#foldedDone) {
      this.#foldedDone = true;
      const lengths = this.#nameLengths;
      for (const key in headers) {
        if (lengths[key.length] !== 1) continue;
        const lower = key.toLowerCase();
        if (lower === key) continue;
        const at = this.#nameIndex.get(lower);
        // The first spelling wins, as a lookup by the lowercase key would.
        if (at !== undefined && values[at] === undefined) values[at] = headers[key];
      }
    }
    return values[index];
  }

  queryParam(name: string): string | undefined {
    const given = this.#givenQuery;
    if (given !== undefined) return this.#given(readGivenQuery(given, name));
    if (!this.#queryDone) this.#parseQuery();
    return this.#query === undefined ? undefined : this.#query.get(name);
  }

  cookie(name: string): string | undefined {
    const given = this.#givenCookies;
    if (given !== undefined) return this.#given((given as Readonly<Record<string, unknown>>)[name]);
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
    // The query starts at a `?` before any `#`: `/y#?lane=gray` has a fragment and no query.
    const q = pathEnd(target, pathStart(target));
    if (q === target.length || target.charCodeAt(q) !== 63 /* ? */) return;
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

/** Where the path of a request target starts: 0, or after the scheme and authority of an absolute form. */
function pathStart(target: string): number {
  if (target.charCodeAt(0) === 47 /* / */) return 0;
  const scheme = target.indexOf('://');
  if (scheme === -1) return 0;
  for (let i = scheme + 3; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return target.length;
}

/** Where the path ends: the first `?` or `#` from `start`, or the end. */
function pathEnd(target: string, start: number): number {
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return target.length;
}

/** Repeated header values joined (`,` as Envoy does, or `; ` for cookie); undefined and counted when one is not a string. */
function joinValues(values: readonly unknown[], name: string, stats: Float64Array): string | undefined {
  const length = values.length;
  if (length === 0) return undefined;
  for (let i = 0; i < length; i++) {
    if (typeof values[i] !== 'string') {
      stats[STAT_INVALID]!++;
      return undefined;
    }
  }
  if (length === 1) return values[0] as string;
  return (values as readonly string[]).join(name === 'cookie' ? '; ' : ',');
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

function readGivenQuery(query: QueryLike, name: string): unknown {
  if (typeof (query as { get?: unknown }).get === 'function') {
    return (query as { get(name: string): unknown }).get(name);
  }
  const value: unknown = (query as Readonly<Record<string, unknown>>)[name];
  // A repeated parameter (`?v=1&v=2` parsed by qs or querystring): the first value counts.
  return Array.isArray(value) ? value[0] : value;
}
