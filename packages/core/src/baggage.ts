import { MAX_BAGGAGE_ENTRIES, MAX_BAGGAGE_LENGTH } from './constants';

/** The result of reading one key from a W3C `baggage` header. */
export type BaggageRead =
  | { readonly ok: true; readonly value: string | undefined }
  | { readonly ok: false; readonly reason: 'oversize' | 'malformed-baggage' };

const ABSENT: BaggageRead = Object.freeze({ ok: true, value: undefined });
const OVERSIZE: BaggageRead = Object.freeze({ ok: false, reason: 'oversize' });
const MALFORMED: BaggageRead = Object.freeze({ ok: false, reason: 'malformed-baggage' });

const EQUALS = 61;
const SPACE = 32;
const TAB = 9;

// Index of the first non-OWS (SP / HTAB) character in text[from, to), or `to`.
function skipOws(text: string, from: number, to: number): number {
  while (from < to) {
    const c = text.charCodeAt(from);
    if (c !== SPACE && c !== TAB) break;
    from++;
  }
  return from;
}

/**
 * Reads the value of `key` from a W3C `baggage` header value (`key=value;property,...`) without
 * splitting the header into arrays. Keys compare exactly (case-sensitive, as W3C keys are),
 * optional whitespace around keys, `=` and values is ignored, properties after `;` are skipped,
 * and percent-encoded values are decoded. When a key appears more than once the LAST member wins,
 * as in OpenTelemetry's W3C propagator. A header over 8192 characters or with more than 180
 * members is refused as a whole (`oversize`, W3C limits); when the deciding member's value is not
 * valid percent-encoding the read is `malformed-baggage`. Several header values (an array) are
 * read as one comma-joined list. Never throws.
 *
 * @example
 * readBaggage('userId=1,x-mse-tag=gray;ttl=3', 'x-mse-tag'); // { ok: true, value: 'gray' }
 * readBaggage('x-mse-tag=%ZZ', 'x-mse-tag');                 // { ok: false, reason: 'malformed-baggage' }
 */
export function readBaggage(header: string | readonly string[] | undefined, key: string): BaggageRead {
  if (header === undefined) return ABSENT;
  const text = typeof header === 'string' ? header : header.join(',');
  const length = text.length;
  if (length > MAX_BAGGAGE_LENGTH) return OVERSIZE;
  let found: string | undefined;
  let malformed = false;
  let members = 0;
  let start = 0;
  while (start <= length) {
    let end = text.indexOf(',', start);
    if (end === -1) end = length;
    if (++members > MAX_BAGGAGE_ENTRIES) return OVERSIZE;
    const keyStart = skipOws(text, start, end);
    if (text.startsWith(key, keyStart) && keyStart + key.length <= end) {
      const eq = skipOws(text, keyStart + key.length, end);
      if (eq < end && text.charCodeAt(eq) === EQUALS) {
        let valueEnd = text.indexOf(';', eq + 1);
        if (valueEnd === -1 || valueEnd > end) valueEnd = end;
        const raw = text.slice(eq + 1, valueEnd).trim();
        malformed = false;
        if (raw.includes('%')) {
          try {
            found = decodeURIComponent(raw);
          } catch {
            found = undefined;
            malformed = true;
          }
        } else {
          found = raw;
        }
      }
    }
    start = end + 1;
  }
  if (malformed) return MALFORMED;
  return found === undefined ? ABSENT : { ok: true, value: found };
}
