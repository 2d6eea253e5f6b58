import { InvalidOptionError } from '../errors';
import { HTTP_TOKEN } from '../http-token';
import type { CompiledSource, IngressOptions, LaneSource } from '../ingress';
import { type Lane, parseLane } from '../lane';
import { assertKnownOptions } from '../options';

// Validation of ingress options, at setup: names, sources, value maps.

/** The longest mapped value compared; a longer value is oversize before any lookup. */
export const MAX_SOURCE_VALUE_LENGTH = 256;

/** Every key of {@link IngressOptions}: a misspelt option (`heder`) would silently change where lanes are read. */
export const INGRESS_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  sources: 1,
  baggageKey: 1,
  baggageValues: 1,
  carry: 1,
} satisfies Record<keyof IngressOptions, 1>);
// `value` for `values` would silently drop the map.
const SOURCE_KEYS: readonly string[] = Object.keys({ key: 1, values: 1 } satisfies Record<
  keyof LaneSource,
  1
>);

export function compileSource(source: string | LaneSource, path: string): CompiledSource {
  if (typeof source === 'string') return { key: headerName(source, path), values: undefined };
  if (typeof source !== 'object' || source === null) {
    throw new InvalidOptionError(path, 'must be a header name or { key, values }');
  }
  assertKnownOptions('compileIngress()', source, SOURCE_KEYS, path);
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
