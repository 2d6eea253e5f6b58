/** Each retry waits this many times longer than the previous one. */
export const RETRY_MULTIPLIER = 2;
/** Retry delays are spread by +/- this fraction so that many clients do not retry in step. */
export const RETRY_JITTER = 0.2;

/**
 * Exponential retry delays with jitter (grpc-js `BackoffTimeout` style), shared by the etcd and
 * Kubernetes registries: `initialMs`, x{@link RETRY_MULTIPLIER} per attempt, each delay spread by
 * +/-{@link RETRY_JITTER} and never above `maxMs`; `reset()` after a success.
 *
 * It holds at most one pending run, always `unref()`'d: a registry that is only retrying never
 * keeps the process alive.
 *
 * @example
 * ```ts
 * const backoff = new Backoff(500, 30_000);
 * backoff.schedule(retry); // after ~500 ms, then ~1000 ms, ...
 * backoff.schedule(reconnect, 0); // at once, without growing the delay
 * backoff.reset(); // the attempt worked
 * backoff.cancel(); // on close
 * ```
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #nextMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#nextMs = initialMs;
  }

  /** The (jittered) delay before the next attempt; grows the one after. */
  next(): number {
    const base = this.#nextMs;
    this.#nextMs = Math.min(this.#maxMs, base * RETRY_MULTIPLIER);
    const spread = 1 + RETRY_JITTER * (Math.random() * 2 - 1);
    return Math.min(this.#maxMs, Math.round(base * spread));
  }

  /**
   * Runs `fn` after `delayMs` (default: {@link Backoff.next}, which grows the delay) on an
   * `unref()`'d timer. Replaces any pending run.
   */
  schedule(fn: () => void, delayMs: number = this.next()): void {
    this.cancel();
    this.#timer = setTimeout(fn, delayMs);
    this.#timer.unref();
  }

  /** Back to `initialMs` (call after a success). */
  reset(): void {
    this.#nextMs = this.#initialMs;
  }

  /** Drops the pending run, if any. */
  cancel(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
