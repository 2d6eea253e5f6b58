// How the HTTP integrations read a failed call: did any byte of it reach the instance, and does
// it count toward outlier ejection.
import type { CallOutcome } from '../outlier-detection';

/** Codes of failures to establish a connection: nothing of the request was written. */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'GL_ERR_CONNECT_TIMEOUT', // laneAxiosDiscovery's connect timeout
]);

/** Codes of a connection that broke or never answered (the request may have been written). */
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ETIMEDOUT']);

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ECONNABORTED', // axios' own timeout
]);

/** Methods that may be sent twice (RFC 9110 idempotent methods). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/** The `code` of an error or of its cause (fetch wraps it), if any. */
export function failureCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 3; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * True when no byte of the request can have reached the instance: a connect failure, or a
 * connection that broke before the request was written (`written` false).
 */
export function neverReached(code: string | undefined, written: boolean): boolean {
  if (code === undefined) return false;
  if (CONNECT_CODES.has(code)) return true;
  return !written && RESET_CODES.has(code);
}

/** The outlier outcome of a failure before any response (`null`: not the instance's fault, e.g. an abort). */
export function failureOutcome(code: string | undefined): CallOutcome | null {
  if (code === undefined) return null;
  if (CONNECT_CODES.has(code) || RESET_CODES.has(code)) return 'connect-failure';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  return null;
}

/** True for a failure worth retrying an idempotent request for (the connection, not the request, failed). */
export function isTransportFailure(code: string | undefined): boolean {
  return code !== undefined && (CONNECT_CODES.has(code) || RESET_CODES.has(code));
}
