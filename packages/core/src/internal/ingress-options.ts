import { InvalidOptionError } from '../errors';
import { HTTP_TOKEN } from '../http-token';
import type { CompiledSource, LaneSource } from '../ingress';
import { type Lane, parseLane } from '../lane';

// Validation of ingress options, at setup: names, sources, value maps.

/** The longest mapped value compared; a longer value is oversize before any lookup. */
export const MAX_SOURCE_VALUE_LENGTH = 256;

export const OPTION_NAMES: ReadonlySet<string> = new Set([
  'header',
  'sources',
  'baggageKey',
  'baggageValues',
  'carry',
]);
const SOURCE_NAMES: ReadonlySet<string> = new Set(['key', 'values']);

// A misspelt option (`heder`, `value` for `values`) would silently change where lanes are read.
export function rejectUnknown(object: object, names: ReadonlySet<string>, prefix: string): void {
  for (const name of Object.keys(object)) {
    if (!names.has(name)) {
      throw new InvalidOptionError(`${prefix}${name}`, `unknown option (known: ${[...names].join(', ')})`);
    }
  }
}

export function compileSource(source: string | LaneSource, path: string): CompiledSource {
  if (typeof source === 'string') return { key: headerName(source, path), values: undefined };
  if (typeof source !== 'object' || source === null) {
    throw new InvalidOptionError(path, 'must be a header name or { key, values }');
  }
  rejectUnknown(source, SOURCE_NAMES, `${path}.`);
  const key = headerName(source.key, `${path}.key`);
  return { key, values: compileValues(source.values, `${path}.values`, true) };
}

// A header value reaches a value map as one list element: non-empty, no ",", no OWS at either end.
function canBeFieldValue(value: string): boolean {
  if (value.length === 0 || value.includes(',')) return false;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first !== 32 && first !== 9 && last !== 32 && last !== 9;
}

export function compileValues(
  raw: Readonly<Record<string, Lane>> | undefined,
  path: string,
  fromHeader = false,
): ReadonlyMap<string, Lane> | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidOptionError(path, 'must be an object mapping values to lanes');
  }
  const values = new Map<string, Lane>();
  for (const [value, lane] of Object.entries(raw)) {
    if (fromHeader && !canBeFieldValue(value)) {
      throw new InvalidOptionError(
        `${path}[${JSON.stringify(value)}]`,
        'no header value can equal it (empty, a "," or white space at an end): it could never match',
      );
    }
    if (parseLane(lane) === undefined) {
      throw new InvalidOptionError(
        `${path}[${JSON.stringify(value)}]`,
        `${JSON.stringify(lane)} is not a lane`,
      );
    }
    if (value.length > MAX_SOURCE_VALUE_LENGTH) {
      throw new InvalidOptionError(
        `${path}[${JSON.stringify(value.slice(0, 32))}…]`,
        `a mapped value is at most ${MAX_SOURCE_VALUE_LENGTH} characters`,
      );
    }
    values.set(value, lane);
  }
  return values;
}

export function headerName(name: unknown, path: string): string {
  if (typeof name !== 'string' || !HTTP_TOKEN.test(name)) {
    throw new InvalidOptionError(path, `${JSON.stringify(name)} is not a header name`);
  }
  return name.toLowerCase();
}
