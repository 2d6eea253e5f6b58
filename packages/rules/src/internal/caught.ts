/** A caught value as an Error (caught values are `unknown`). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** A caught value's message, for error texts. */
export function describeError(value: unknown): string {
  if (value instanceof Error) return value.message || value.name;
  return String(value);
}

/** `code` of a caught value, when it has a string one. */
export function errorCode(value: unknown): string | undefined {
  const code = (value as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
