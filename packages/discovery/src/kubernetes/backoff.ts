/** Growth factor between consecutive retry delays. */
export const BACKOFF_MULTIPLIER = 2;
/** Each delay is moved by up to this fraction either way, so many clients do not retry in step. */
export const BACKOFF_JITTER = 0.2;

/**
 * Exponential retry delays with jitter: `initialMs`, x2 per failure, capped at `maxMs`;
 * `reset()` after a success.
 *
 * @example
 * ```ts
 * const backoff = new Backoff(500, 30_000);
 * setTimeout(retry, backoff.next()).unref();
 * ```
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #nextMs: number;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#nextMs = initialMs;
  }

  /** The delay before the next attempt; grows the one after. */
  next(): number {
    const base = this.#nextMs;
    this.#nextMs = Math.min(this.#maxMs, base * BACKOFF_MULTIPLIER);
    const jitter = base * BACKOFF_JITTER * (Math.random() * 2 - 1);
    return Math.max(0, Math.min(this.#maxMs, Math.round(base + jitter)));
  }

  /** Back to `initialMs`. */
  reset(): void {
    this.#nextMs = this.#initialMs;
  }
}
