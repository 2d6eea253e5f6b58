import { GraylaneError } from '@graylane/core';
import { RegistryUnavailableError } from '../errors';

/** HTTP status the API server answers when a resourceVersion or continue token is compacted away. */
export const HTTP_GONE = 410;

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * The HTTP status carried by a caught value, if any: `ApiException.code` (list, read),
 * `statusCode` (watch), or a `Status` object's `code` (a watch `ERROR` event).
 */
export function statusCodeOf(value: unknown): number | undefined {
  const code = field(value, 'statusCode') ?? field(value, 'code');
  return typeof code === 'number' ? code : undefined;
}

/** True for 410 Gone / Expired: the resourceVersion is too old, relist. */
export function isGone(value: unknown): boolean {
  return statusCodeOf(value) === HTTP_GONE;
}

/** A short, human description of a caught value (an API `Status` message when there is one). */
export function describeError(value: unknown): string {
  const body = field(value, 'body');
  const parsed = typeof body === 'string' ? safeParse(body) : body;
  const statusMessage =
    field(parsed, 'message') ?? (field(value, 'kind') === 'Status' ? field(value, 'message') : undefined);
  const code = statusCodeOf(value);
  const message = typeof statusMessage === 'string' ? statusMessage : field(value, 'message');
  const text = typeof message === 'string' && message.length > 0 ? message : String(value);
  return code === undefined ? text : `HTTP ${code}: ${text}`;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Wraps a caught value as `GL_ERR_REGISTRY_UNAVAILABLE` naming the service (typed errors pass through). */
export function unavailable(service: string, what: string, cause: unknown): Error {
  if (cause instanceof GraylaneError) return cause;
  return new RegistryUnavailableError('kubernetes', `service ${service}: ${what}: ${describeError(cause)}`, {
    cause,
  });
}
