import { MAX_BAGGAGE_ENTRIES, MAX_BAGGAGE_LENGTH } from './constants';

/** The result of reading one key from a W3C `baggage` header. */
export type BaggageRead =
  | { readonly ok: true; readonly value: string | undefined }
  | { readonly ok: false; readonly reason: 'oversize' | 'malformed-baggage' };

const ABSENT: BaggageRead = Object.freeze({ ok: true, value: undefined });
const OVERSIZE: BaggageRead = Object.freeze({ ok: false, reason: 'oversize' });
const MALFORMED: BaggageRead = Object.freeze({ ok: false, reason: 'malformed-baggage' });

/**
 * Reads the value of `key` from a W3C `baggage` header value without splitting the header into
 * arrays. Percent-encoded values are decoded. A header over 8192 characters or with more than 180
 * members is refused as a whole (W3C limits); a member that cannot be decoded is malformed.
 * Never throws.
 *
 * @example
 * readBaggage('userId=1,x-mse-tag=gray;ttl=3', 'x-mse-tag'); // { ok: true, value: 'gray' }
 */
export function readBaggage(header: string | readonly string[] | undefined, key: string): BaggageRead {
  if (header === undefined) return ABSENT;
  const text = typeof header === 'string' ? header : header.join(',');
  if (text.length > MAX_BAGGAGE_LENGTH) return OVERSIZE;
  let found: string | undefined;
  let members = 0;
  let start = 0;
  const length = text.length;
  while (start <= length) {
    let end = text.indexOf(',', start);
    if (end === -1) end = length;
    if (++members > MAX_BAGGAGE_ENTRIES) return MALFORMED;
    if (found === undefined) {
      const eq = text.indexOf('=', start);
      if (eq !== -1 && eq < end && text.slice(start, eq).trim() === key) {
        let valueEnd = text.indexOf(';', eq + 1);
        if (valueEnd === -1 || valueEnd > end) valueEnd = end;
        const raw = text.slice(eq + 1, valueEnd).trim();
        if (raw.includes('%')) {
          try {
            found = decodeURIComponent(raw);
          } catch {
            return MALFORMED;
          }
        } else {
          found = raw;
        }
      }
    }
    start = end + 1;
  }
  return found === undefined ? ABSENT : { ok: true, value: found };
}
