// Timeouts of routed calls. Kept apart from lane-dispatcher.ts, whose declarations name undici's
// types: the main entry exports these numbers without needing the optional peer `undici`.

/**
 * Default connect timeout of routed calls (`laneDispatcher`), in ms.
 *
 * @example
 * laneDispatcher({ discovery, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS * 2 });
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

/**
 * Default headers timeout of routed calls (`laneDispatcher`, and the total timeout of
 * `laneAxiosDiscovery`), in ms.
 *
 * @example
 * laneAxiosDiscovery(axios.create(), { discovery, timeoutMs: DEFAULT_HEADERS_TIMEOUT_MS / 3 });
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;

/**
 * Default body (idle) timeout of routed calls (`laneDispatcher`), in ms: undici's own.
 *
 * @example
 * laneDispatcher({ discovery, bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS / 10 });
 */
export const DEFAULT_BODY_TIMEOUT_MS = 300_000;
