import { InvalidOptionError } from '@graylane/core';

/** A positive finite number option (integer when `integer`), or `fallback` when undefined. */
export function positiveOption(value: unknown, name: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new InvalidOptionError(
      name,
      `expected a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    );
  }
  return value;
}
