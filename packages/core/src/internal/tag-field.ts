import { MAX_TAG_FIELD_LENGTH } from '../constants';
import type { InvalidTagReason } from '../diagnostics';

/** Why a lane source's field holds no single value. One frozen constant per reason. */
export interface FieldFailure {
  readonly failure: InvalidTagReason;
}

const TYPE: FieldFailure = Object.freeze({ failure: 'type' });
const OVERSIZE: FieldFailure = Object.freeze({ failure: 'oversize' });
const CONFLICT: FieldFailure = Object.freeze({ failure: 'conflict' });

const SPACE = 32;
const TAB = 9;

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

/**
 * The one value a lane source's field holds, as read by a carrier getter: `undefined` when absent,
 * else the value, else why there is none. The rule, the same for every carrier:
 *
 * - a field is a string or an array of strings (repeated headers, several metadata values);
 *   anything else is `type`;
 * - all of it together (as Node joins repeated headers, `a, b`) is at most
 *   `MAX_TAG_FIELD_LENGTH` characters, checked as the values are read, before anything is split:
 *   else `oversize`;
 * - each value is a comma-separated list (Node and `Headers` join repeated headers that way);
 *   SP and HTAB around an element are optional whitespace, empty elements are skipped (RFC 9110
 *   lists), and every other element must be the same string: else `conflict`. Nothing else is
 *   trimmed. A field with only empty elements is `''` (the caller rejects it).
 *
 * May throw when the field is a Proxy whose traps throw: callers catch that as `unreadable`.
 */
export function singleValue(raw: unknown): string | FieldFailure | undefined {
  if (typeof raw === 'string') {
    return raw.length > MAX_TAG_FIELD_LENGTH ? OVERSIZE : listValue(raw, '');
  }
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) return TYPE;
  const values: readonly unknown[] = raw;
  const count = values.length;
  if (count === 0) return undefined;
  let total = 0;
  let agreed = '';
  // Every value is read (a wrong type or oversize outranks a conflict), each exactly once.
  let conflict = false;
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (typeof value !== 'string') return TYPE;
    total += i === 0 ? value.length : value.length + 2;
    if (total > MAX_TAG_FIELD_LENGTH) return OVERSIZE;
    const next = listValue(value, agreed);
    if (typeof next === 'string') agreed = next;
    else conflict = true;
  }
  return conflict ? CONFLICT : agreed;
}

// The element every non-empty element of `text` equals, given the one agreed so far ('' = none).
function listValue(text: string, agreed: string): string | FieldFailure {
  const length = text.length;
  // The common case, one bare value: no split, no copy.
  if (
    length > 0 &&
    text.indexOf(',') === -1 &&
    !isOws(text.charCodeAt(0)) &&
    !isOws(text.charCodeAt(length - 1))
  ) {
    if (agreed === '' || agreed === text) return text;
    return CONFLICT;
  }
  let start = 0;
  while (start <= length) {
    let end = text.indexOf(',', start);
    if (end === -1) end = length;
    let from = start;
    let to = end;
    start = end + 1;
    while (from < to && isOws(text.charCodeAt(from))) from++;
    while (to > from && isOws(text.charCodeAt(to - 1))) to--;
    if (from === to) continue;
    if (agreed === '') agreed = text.slice(from, to);
    else if (agreed.length !== to - from || !text.startsWith(agreed, from)) return CONFLICT;
  }
  return agreed;
}

/** A short printable form of a field for diagnostics: the string, the first string, or the type. */
export function shownValue(raw: unknown): string {
  try {
    if (typeof raw === 'string') return raw;
    if (raw === null) return 'null';
    if (Array.isArray(raw)) {
      const first: unknown = raw[0];
      return typeof first === 'string' ? first : 'array';
    }
    return typeof raw;
  } catch {
    return '';
  }
}
