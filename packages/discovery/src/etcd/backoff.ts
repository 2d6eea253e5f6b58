/** Each retry waits this many times longer than the previous one. */
export const RETRY_MULTIPLIER = 2;
/** Retry delays are spread by +/- this fraction so that many clients do not retry in step. */
export const RETRY_JITTER = 0.2;

/**
 * Exponential retry delays with jitter (grpc-js `BackoffTimeout` style). One pending timer at a
 * time, always `unref()`'d: a registry that is only retrying never keeps the process alive.
 */
export class RetryTimer {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #nextMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#nextMs = initialMs;
  }

  /** Runs `fn` after the current delay and grows the delay. Replaces any pending run. */
  schedule(fn: () => void): void {
    this.cancel();
    const spread = 1 + RETRY_JITTER * (Math.random() * 2 - 1);
    this.#timer = setTimeout(fn, Math.round(this.#nextMs * spread));
    this.#timer.unref();
    this.#nextMs = Math.min(this.#nextMs * RETRY_MULTIPLIER, this.#maxMs);
  }

  /** Back to the initial delay (call after a success). */
  reset(): void {
    this.#nextMs = this.#initialMs;
  }

  cancel(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
