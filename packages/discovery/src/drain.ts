import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import type { Registration } from './registry';

/**
 * Default drain window of a graceful stop: how long an instance keeps serving after it
 * deregistered, before its server closes. It must cover the time every caller needs to see the
 * removal: measured on loopback, under 100 ms for etcd (lease revoke -> watch) and for a watched
 * static file (fs.watch + 50 ms debounce); up to the 2 s stat poll where fs.watch misses changes
 * (network filesystems); Kubernetes endpoint propagation takes seconds. 5 s covers all of them
 * with margin; set less where you measured less.
 */
export const DEFAULT_DRAIN_MS = 5_000;

/** Default cap on waiting for in-flight requests once the server closes; then connections are cut. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

/** The parts of a `node:http`/`node:https` server (or `net.Server`) the graceful stop uses. */
export interface DrainableServer {
  readonly listening: boolean;
  once(event: 'listening', listener: () => void): unknown;
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
  /** `node:http`'s `'request'` event: used to answer with `Connection: close` during the drain. */
  prependListener?(
    event: 'request',
    listener: (request: unknown, response: ClosingResponse) => void,
  ): unknown;
  off?(event: 'request', listener: (request: unknown, response: ClosingResponse) => void): unknown;
}

/** The part of a `node:http` response the drain uses. */
interface ClosingResponse {
  readonly headersSent?: boolean;
  setHeader?(name: string, value: string): unknown;
}

/** Options of {@link drainAndClose}. */
export interface DrainOptions {
  /** The server to close after the drain; without it only the deregistration and the wait happen. */
  readonly server?: DrainableServer | undefined;
  /** Keep serving this long after deregistering. Default {@link DEFAULT_DRAIN_MS}. */
  readonly drainMs?: number | undefined;
  /** Longest wait for in-flight requests after `server.close()`. Default {@link DEFAULT_CLOSE_TIMEOUT_MS}. */
  readonly closeTimeoutMs?: number | undefined;
}

const DRAIN_OPTION_KEYS: readonly string[] = Object.keys({
  server: 1,
  drainMs: 1,
  closeTimeoutMs: 1,
} satisfies Record<keyof DrainOptions, 1>);

/**
 * Stops an instance without failing a request: deregisters first, keeps serving for `drainMs`
 * (callers that have not seen the removal yet still reach it) while answering every request with
 * `Connection: close` (so callers leave their kept-alive connections now, while the instance still
 * accepts new ones, not when it closes them under a request), then closes the server — no new
 * connections, in-flight requests finish, idle keep-alive connections are closed — and resolves
 * when it is closed (after `closeTimeoutMs`, remaining connections are cut).
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * process.once('SIGTERM', () => drainAndClose(registration, { server }).then(() => process.exit(0)));
 */
export async function drainAndClose(
  registration: Pick<Registration, 'close'>,
  options: DrainOptions = {},
): Promise<void> {
  assertKnownOptions('drainAndClose()', options, DRAIN_OPTION_KEYS);
  const { drainMs, closeTimeoutMs } = drainOptions(options);
  const server = options.server;
  // From the deregistration on, a kept-alive connection is a request that may one day be sent just
  // as the server closes it ("other side closed": it may have reached the instance, so no client
  // retries it). Closing each after its response moves the caller's next request to a fresh
  // connection: accepted during the drain, refused (and so retried safely) after it.
  const closeAfterResponse = (_request: unknown, response: ClosingResponse) => {
    if (response.headersSent !== true) response.setHeader?.('connection', 'close');
  };
  // First in line: the application's own listener may answer at once.
  server?.prependListener?.('request', closeAfterResponse);
  await registration.close().catch(() => undefined);
  if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
  if (server !== undefined) await closeServer(server, closeTimeoutMs);
  server?.off?.('request', closeAfterResponse);
}

/** Validated drain options. @internal */
export function drainOptions(options: DrainOptions): { drainMs: number; closeTimeoutMs: number } {
  const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
  if (typeof drainMs !== 'number' || !(drainMs >= 0) || !Number.isFinite(drainMs)) {
    throw new InvalidOptionError('drainMs', 'expected a number of milliseconds >= 0');
  }
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  if (typeof closeTimeoutMs !== 'number' || !(closeTimeoutMs > 0) || !Number.isFinite(closeTimeoutMs)) {
    throw new InvalidOptionError('closeTimeoutMs', 'expected a positive number of milliseconds');
  }
  const server = options.server;
  if (
    server !== undefined &&
    (typeof server !== 'object' || server === null || typeof server.close !== 'function')
  ) {
    throw new InvalidOptionError('server', 'expected a server (close(), listening)');
  }
  return { drainMs, closeTimeoutMs };
}

/** Resolves once `server` is listening. @internal */
export function whenListening(server: DrainableServer): Promise<void> {
  if (server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.once('listening', () => resolve());
  });
}

function closeServer(server: DrainableServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    // Keep-alive connections that become idle after their last response are closed as they do.
    const idle = setInterval(() => server.closeIdleConnections?.(), 50);
    idle.unref();
    const cut = setTimeout(() => {
      server.closeAllConnections?.();
      finish();
    }, timeoutMs);
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    }
    server.close(() => finish());
    server.closeIdleConnections?.();
  });
}
