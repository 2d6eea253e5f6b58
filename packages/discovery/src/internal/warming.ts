// Warm-up for one service: which instances are ramping up, since when, and the percent of their
// weight the buckets give them now. While any instance warms, a timer rebuilds the service's
// buckets every step (as a registry update would); once the last window ends, the timer stops
// and the buckets hold plain weights again, so pick() never looks at any of this.
import { performance } from 'node:perf_hooks';
import type { Instance } from '../instance';
import { type WarmupConfig, warmupPercent } from '../warmup';

/** What the warm-up tracker needs from its service. */
export interface WarmingHost {
  /** Rebuilds the buckets from the current set, ejections and warm-up percents. */
  rebuild(): void;
}

/** An instance takes traffic: healthy, weight > 0 (ejection aside). */
export function isEligible(instance: Instance): boolean {
  return instance.healthy !== false && instance.weight > 0 && Number.isFinite(instance.weight);
}

export class Warming {
  readonly config: WarmupConfig;
  readonly #host: WarmingHost;
  /** Warming instance ids -> when their warm-up started (performance.now()). */
  readonly #started = new Map<string, number>();
  /** Percents (< 100) of the warming instances as of the last refresh; `null` when none warms. */
  percents: ReadonlyMap<string, number> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(config: WarmupConfig, host: WarmingHost) {
    this.config = config;
    this.#host = host;
  }

  /**
   * Compares a new instance set with the previous one (call before the rebuild): an instance that
   * was not eligible before (absent, unhealthy, weight 0) and is now starts warming; one that is
   * no longer eligible stops. `first`: the service's first set, where nothing warms.
   */
  observe(previous: readonly Instance[], next: readonly Instance[], first: boolean): void {
    const now = performance.now();
    const before = new Set<string>();
    for (const instance of previous) if (isEligible(instance)) before.add(instance.id);
    const eligible = new Set<string>();
    for (const instance of next) {
      if (!isEligible(instance)) continue;
      eligible.add(instance.id);
      if (!first && !before.has(instance.id) && !this.#started.has(instance.id))
        this.#started.set(instance.id, now);
    }
    for (const id of this.#started.keys()) if (!eligible.has(id)) this.#started.delete(id);
    this.#schedule();
  }

  /** Starts (or restarts) the warm-up of `id` now, e.g. on its return from ejection. */
  start(id: string): void {
    this.#started.set(id, performance.now());
    this.#schedule();
  }

  /** Recomputes `percents` for a rebuild; forgets instances whose window is over. */
  refresh(): ReadonlyMap<string, number> | null {
    if (this.#started.size === 0) {
      this.percents = null;
      return null;
    }
    const now = performance.now();
    const percents = new Map<string, number>();
    for (const [id, started] of this.#started) {
      const percent = warmupPercent(this.config, now - started);
      if (percent >= 100) this.#started.delete(id);
      else percents.set(id, percent);
    }
    this.percents = percents.size === 0 ? null : percents;
    if (this.percents === null) this.#stop();
    return this.percents;
  }

  /** When the warm-up of `id` ends (ms since the epoch), if it is warming. */
  endsAt(id: string): number | undefined {
    const started = this.#started.get(id);
    if (started === undefined) return undefined;
    return Date.now() + Math.max(0, started + this.config.durationMs - performance.now());
  }

  /** Stops the timer (discovery closed). */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #schedule(): void {
    if (this.#timer !== null || this.#started.size === 0 || this.#closed) return;
    this.#timer = setInterval(() => this.#host.rebuild(), this.config.stepMs);
    this.#timer.unref();
  }

  #stop(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }
}
