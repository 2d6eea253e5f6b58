import { MAX_BAGGAGE_ENTRIES, MAX_BAGGAGE_LENGTH } from './constants';

/** The result of reading one key from a W3C `baggage` header. */
export type BaggageRead =
  | { readonly ok: true; readonly value: string | undefined }
  | {
      readonly ok: false;
      readonly reason: 'oversize' | 'malformed-baggage' | 'conflict' | 'type' | 'unreadable';
    };

const ABSENT: BaggageRead = Object.freeze({ ok: true, value: undefined });
const OVERSIZE: BaggageRead = Object.freeze({ ok: false, reason: 'oversize' });
const MALFORMED: BaggageRead = Object.freeze({ ok: false, reason: 'malformed-baggage' });
const CONFLICT: BaggageRead = Object.freeze({ ok: false, reason: 'conflict' });
const TYPE: BaggageRead = Object.freeze({ ok: false, reason: 'type' });
const UNREADABLE: BaggageRead = Object.freeze({ ok: false, reason: 'unreadable' });

const EQUALS = 61;
const SEMICOLON = 59;
const SPACE = 32;
const TAB = 9;

// W3C baggage character classes, by ASCII code. Anything >= 128 is in neither.
// token (RFC 9110): keys of members and properties.
const TOKEN = new Uint8Array(128);
// baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (printable ASCII but SP, DQUOTE, ",", ";", "\").
const OCTET = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) {
  if (c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c) OCTET[c] = 1;
}
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

// Index of the first non-OWS character in text[from, to), or `to`.
function skipOws(text: string, from: number, to: number): number {
  while (from < to && isOws(text.charCodeAt(from))) from++;
  return from;
}

// End of the run of characters of `table` in text[from, to).
function skipClass(table: Uint8Array, text: string, from: number, to: number): number {
  while (from < to) {
    const c = text.charCodeAt(from);
    if (c >= 128 || table[c] === 0) break;
    from++;
  }
  return from;
}

// Character kinds for the property scanner (the table below, by ASCII code; >= 128 is INVALID).
const INVALID = 0;
const TOKEN_CHAR = 1; // a token character, which is also a baggage-octet
const OCTET_CHAR = 2; // a baggage-octet that is not a token character (and not "=")
const OWS_CHAR = 3;
const SEMI_CHAR = 4;
const EQUALS_CHAR = 5;
const KIND = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  KIND[c] = TOKEN[c] === 1 ? TOKEN_CHAR : OCTET[c] === 1 ? OCTET_CHAR : INVALID;
}
KIND[SPACE] = OWS_CHAR;
KIND[TAB] = OWS_CHAR;
KIND[SEMICOLON] = SEMI_CHAR;
KIND[EQUALS] = EQUALS_CHAR;

// Where the property scanner is: after ";" (a key must follow), in the key, after the key's
// OWS, after "=" (OWS or value), in the value, after the value's OWS.
const AFTER_SEMI = 0;
const IN_KEY = 1;
const AFTER_KEY = 2;
const AFTER_EQUALS = 3;
const IN_VALUE = 4;
const AFTER_VALUE = 5;

/**
 * True when text[from, to), which starts with ";", is `*( OWS ";" OWS property )` with
 * property = key OWS "=" OWS value / key OWS. One pass, one table look-up per character.
 */
function validProperties(text: string, from: number, to: number): boolean {
  let state = AFTER_SEMI;
  for (let i = from + 1; i < to; i++) {
    const c = text.charCodeAt(i);
    const kind = c < 128 ? KIND[c]! : INVALID;
    switch (kind) {
      case SEMI_CHAR:
        if (state === AFTER_SEMI) return false;
        state = AFTER_SEMI;
        break;
      case OWS_CHAR:
        if (state === IN_KEY) state = AFTER_KEY;
        else if (state === IN_VALUE) state = AFTER_VALUE;
        break;
      case EQUALS_CHAR:
        if (state === IN_KEY || state === AFTER_KEY) state = AFTER_EQUALS;
        else if (state === AFTER_EQUALS || state === IN_VALUE) state = IN_VALUE;
        else return false;
        break;
      case TOKEN_CHAR:
        if (state === AFTER_SEMI) state = IN_KEY;
        else if (state === AFTER_EQUALS) state = IN_VALUE;
        else if (state !== IN_KEY && state !== IN_VALUE) return false;
        break;
      case OCTET_CHAR:
        if (state === AFTER_EQUALS) state = IN_VALUE;
        else if (state !== IN_VALUE) return false;
        break;
      default:
        return false;
    }
  }
  return state !== AFTER_SEMI;
}

let lastKey = '';
let lastKeyIsToken = false;

function isToken(key: unknown): key is string {
  if (key === lastKey) return lastKeyIsToken;
  if (typeof key !== 'string') return false;
  lastKey = key;
  lastKeyIsToken = key.length > 0 && skipClass(TOKEN, key, 0, key.length) === key.length;
  return lastKeyIsToken;
}

/**
 * Reads the value of `key` from a W3C `baggage` header value (`key=value;property,...`) without
 * splitting or joining anything. Follows the W3C grammar:
 *
 * - members are separated by `,`; keys compare exactly (case-sensitive);
 * - optional whitespace is SP and HTAB only, and is ignored around keys, `=`, values, `;` and
 *   properties: any other white space (NBSP, VT, FF, BOM, U+2028, ...) is not trimmed;
 * - the lane member's value must be baggage-octets (printable ASCII but space, `"`, `,`, `;`, `\`)
 *   and valid UTF-8 percent-encoding, and its properties must be `key[=value]`; otherwise the read
 *   is `malformed-baggage`. Other members are not judged (W3C lets a reader drop bad entries);
 * - when the key appears more than once, every member must carry the same (decoded) value: two
 *   different values are a `conflict`, never a silent pick;
 * - a header over 8192 characters or with more than 180 members is refused as a whole
 *   (`oversize`, W3C limits). Several header values (an array) are one list, bounded as they are
 *   read, so a huge array costs no more than a header at the limit.
 *
 * Input of another type is `type`; a value whose reading throws (a Proxy) is `unreadable`; a key
 * that is not a token matches nothing. Never throws.
 *
 * @example
 * readBaggage('userId=1,x-mse-tag=gray;ttl=3', 'x-mse-tag'); // { ok: true, value: 'gray' }
 * readBaggage('x-mse-tag=\u00a0gray', 'x-mse-tag');          // { ok: false, reason: 'malformed-baggage' }
 * readBaggage('x-mse-tag=gray,x-mse-tag=blue', 'x-mse-tag'); // { ok: false, reason: 'conflict' }
 */
export function readBaggage(header: string | readonly string[] | undefined, key: string): BaggageRead {
  if (header === undefined) return ABSENT;
  try {
    return read(header as unknown, key);
  } catch {
    return UNREADABLE;
  }
}

function read(header: unknown, key: string): BaggageRead {
  let pieces = 1;
  let list: readonly unknown[] | undefined;
  if (typeof header !== 'string') {
    if (!Array.isArray(header)) return TYPE;
    list = header;
    pieces = list.length;
  }
  if (!isToken(key)) return ABSENT;
  const keyLength = key.length;
  let total = 0;
  let members = 0;
  let found: string | undefined;
  let conflict = false;
  // Refusals rank oversize > malformed > conflict: the whole header is checked before any wins.
  let malformed = false;
  for (let p = 0; p < pieces; p++) {
    // Each value is read once, and counted against the limit before it is parsed.
    const text = list === undefined ? header : list[p];
    if (typeof text !== 'string') return TYPE;
    const length = text.length;
    total += p === 0 ? length : length + 1;
    if (total > MAX_BAGGAGE_LENGTH) return OVERSIZE;
    let start = 0;
    while (start <= length) {
      let end = text.indexOf(',', start);
      if (end === -1) end = length;
      if (++members > MAX_BAGGAGE_ENTRIES) return OVERSIZE;
      const keyStart = skipOws(text, start, end);
      start = end + 1;
      if (keyStart + keyLength > end || !text.startsWith(key, keyStart)) continue;
      const eq = skipOws(text, keyStart + keyLength, end);
      if (eq === end || text.charCodeAt(eq) !== EQUALS) continue;
      // Our member: key OWS "=" OWS value *( OWS ";" OWS property ) OWS.
      const valueStart = skipOws(text, eq + 1, end);
      const valueEnd = skipClass(OCTET, text, valueStart, end);
      const rest = skipOws(text, valueEnd, end);
      if (rest < end && (text.charCodeAt(rest) !== SEMICOLON || !validProperties(text, rest, end))) {
        malformed = true;
        continue;
      }
      const raw = text.slice(valueStart, valueEnd);
      let value = raw;
      if (raw.includes('%')) {
        try {
          value = decodeURIComponent(raw);
        } catch {
          malformed = true;
          continue;
        }
      }
      if (found === undefined) found = value;
      else if (found !== value) conflict = true;
    }
  }
  if (malformed) return MALFORMED;
  if (conflict) return CONFLICT;
  return found === undefined ? ABSENT : { ok: true, value: found };
}
