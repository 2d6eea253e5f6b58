import { InvalidOptionError } from './errors';

/**
 * `value` when it is a finite number > 0 (and whole, with `integer`), `fallback` when it is
 * `undefined`; anything else throws `GL_ERR_INVALID_OPTION` naming `path`. For option validation
 * at setup.
 *
 * @experimental Shared by graylane's packages for their numeric options; may change.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` naming `path`.
 * @example
 * const debounceMs = positiveOption(options.debounceMs, 'debounceMs', 50);
 * const ttlSeconds = positiveOption(options.ttlSeconds, 'ttlSeconds', 10, true);
 */
export function positiveOption(value: unknown, path: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new InvalidOptionError(
      path,
      `expected a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    );
  }
  return value;
}
