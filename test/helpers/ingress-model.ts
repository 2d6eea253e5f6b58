// A second, deliberately naive reading of graylane's ingress rules — split, trim, regex, join —
// written from the documented rules (docs/guarantees.md, the core README) and not from the code.
// The fuzz suite compares the real (allocation-free, scanning) implementation against it on
// every generated input it can model.

/** What `readBaggage` should answer. */
export type ModelRead =
  | { ok: true; value: string | undefined }
  | { ok: false; reason: 'oversize' | 'malformed-baggage' | 'conflict' | 'type' | 'unreadable' };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const PROPERTY =
  /^[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*(=[ \t]*[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*[ \t]*)?$/;
const ALNUM = /^[A-Za-z0-9]$/;
const LANE_CHAR = /^[-A-Za-z0-9_.]$/;

/** SP and HTAB only: what HTTP and W3C baggage call optional whitespace. */
export function trimOws(text: string): string {
  return text.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
}

/** The lane grammar, spelled out character by character. */
export function isLaneModel(value: unknown): value is string {
  if (typeof value !== 'string' || value.length < 1 || value.length > 63) return false;
  if (!ALNUM.test(value[0]!) || !ALNUM.test(value[value.length - 1]!)) return false;
  for (const c of value) if (!LANE_CHAR.test(c)) return false;
  return true;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** W3C baggage, read the slow way: join, split on ",", split on ";", regex each part. */
export function modelReadBaggage(header: unknown, key: unknown): ModelRead {
  try {
    return readBaggageModel(header, key);
  } catch {
    return { ok: false, reason: 'unreadable' };
  }
}

function readBaggageModel(header: unknown, key: unknown): ModelRead {
  if (header === undefined) return { ok: true, value: undefined };
  if (typeof header !== 'string' && !Array.isArray(header)) return { ok: false, reason: 'type' };
  if (typeof key !== 'string' || !TOKEN.test(key)) return { ok: true, value: undefined };
  const pieces: unknown[] = typeof header === 'string' ? [header] : header;
  let length = -1;
  let members = 0;
  for (const piece of pieces) {
    if (typeof piece !== 'string') return { ok: false, reason: 'type' };
    length += piece.length + 1;
    if (length > 8192) return { ok: false, reason: 'oversize' };
    members += piece.split(',').length;
    if (members > 180) return { ok: false, reason: 'oversize' };
  }
  const ours = new RegExp(`^[ \\t]*${escapeRegExp(key)}[ \\t]*=`);
  const values: string[] = [];
  let malformed = false;
  for (const member of (pieces as string[]).join(',').split(',')) {
    const head = ours.exec(member);
    if (head === null) continue;
    const [value, ...properties] = member.slice(head[0].length).split(';');
    const raw = trimOws(value!);
    if (!OCTETS.test(raw) || !properties.every((p) => PROPERTY.test(p))) {
      malformed = true;
      continue;
    }
    try {
      values.push(decodeURIComponent(raw));
    } catch {
      malformed = true;
    }
  }
  if (malformed) return { ok: false, reason: 'malformed-baggage' };
  if (new Set(values).size > 1) return { ok: false, reason: 'conflict' };
  return { ok: true, value: values[0] };
}

type Field = { kind: 'absent' } | { kind: 'value'; value: string } | { kind: 'invalid'; reason: string };

/** One lane source's field: strings or arrays of strings, joined as Node joins them, listed. */
export function modelField(raw: unknown): Field {
  try {
    return fieldModel(raw);
  } catch {
    return { kind: 'invalid', reason: 'unreadable' };
  }
}

function fieldModel(raw: unknown): Field {
  if (raw === undefined) return { kind: 'absent' };
  let values: unknown[];
  if (typeof raw === 'string') values = [raw];
  else if (Array.isArray(raw)) values = raw;
  else return { kind: 'invalid', reason: 'type' };
  if (values.length === 0) return { kind: 'absent' };
  let length = -2;
  for (const value of values) {
    if (typeof value !== 'string') return { kind: 'invalid', reason: 'type' };
    length += value.length + 2;
    if (length > 1024) return { kind: 'invalid', reason: 'oversize' };
  }
  const elements = (values as string[])
    .join(', ')
    .split(',')
    .map(trimOws)
    .filter((e) => e !== '');
  if (new Set(elements).size > 1) return { kind: 'invalid', reason: 'conflict' };
  return { kind: 'value', value: elements[0] ?? '' };
}

/** What a record getter hands on: own properties only, finite numbers as strings. */
export function modelRecordValue(record: Record<string, unknown>, key: string): unknown {
  if (!Object.hasOwn(record, key)) return undefined;
  const value = record[key];
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
}

function laneOf(value: string, reasons: string[]): string | undefined {
  if (value.length > 63) reasons.push('oversize');
  else if (!isLaneModel(value)) reasons.push('grammar');
  else return value;
  return undefined;
}

/**
 * `laneFromHeaders(headers)` with default options, given what the getter returns for
 * `x-mse-tag` and for `baggage`: the lane and the reasons counted, in order.
 */
export function modelLane(tag: unknown, baggage: unknown): { lane: string | undefined; reasons: string[] } {
  const reasons: string[] = [];
  const field = modelField(tag);
  if (field.kind === 'invalid') reasons.push(field.reason);
  if (field.kind === 'value') {
    const lane = laneOf(field.value, reasons);
    if (lane !== undefined) return { lane, reasons };
  }
  if (baggage === undefined) return { lane: undefined, reasons };
  const read = modelReadBaggage(baggage, 'x-mse-tag');
  if (!read.ok) {
    reasons.push(read.reason);
    return { lane: undefined, reasons };
  }
  return { lane: read.value === undefined ? undefined : laneOf(read.value, reasons), reasons };
}
