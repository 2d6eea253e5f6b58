import type { Lane } from '@graylane/core';

const NONE: ReadonlySet<Lane> = new Set<Lane>();

/** Lanes one publisher tracks at most; messages of further lanes go to the group's queue (always correct). */
const MAX_TRACKED_LANES = 1024;

/**
 * Reads which of `lanes` have a live consumer, from the broker, the way base consumers read it.
 * Rejecting empties the view until the next read (every message to the group's queue: always correct).
 */
export type LivenessRead = (lanes: readonly Lane[]) => Promise<ReadonlySet<Lane>>;

/**
 * A publisher's cached view of which lanes have live consumers, re-read every `intervalMs`. A lane
 * seen for the first time counts as not live (its message goes to the group's queue, where base
 * consumers route it) and is read at once. The view only decides which queue a message goes to
 * first: base consumers drain the queue of a lane whose consumer is gone, so a stale view delays a
 * message by at most one liveness interval, never loses it.
 */
export class LiveLaneCache {
  readonly #read: LivenessRead;
  readonly #onGone: (lane: Lane) => void;
  readonly #known = new Set<Lane>();
  #live: ReadonlySet<Lane> = NONE;
  #timer: NodeJS.Timeout | null = null;
  #reading: Promise<void> | null = null;
  #again = false;

  /** `onGone(lane)` runs when a lane seen live is read not live. */
  constructor(read: LivenessRead, intervalMs: number, lanes: readonly Lane[], onGone: (lane: Lane) => void) {
    this.#read = read;
    this.#onGone = onGone;
    for (const lane of lanes) this.#known.add(lane);
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
  }

  /** `true` while `lane` was read live; a lane not seen before is read now (and is not live until then). */
  isLive(lane: Lane): boolean {
    if (this.#live.has(lane)) return true;
    if (!this.#known.has(lane) && this.#known.size < MAX_TRACKED_LANES) {
      this.#known.add(lane);
      void this.refresh();
    }
    return false;
  }

  /** The lanes read live, sorted. */
  liveLanes(): Lane[] {
    return [...this.#live].sort();
  }

  /** Re-reads every tracked lane; a call while a read runs queues one more read after it. */
  refresh(): Promise<void> {
    if (this.#timer === null) return Promise.resolve();
    if (this.#reading !== null) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = this.#readAll().finally(() => {
      this.#reading = null;
      if (this.#again) {
        this.#again = false;
        void this.refresh();
      }
    });
    return this.#reading;
  }

  async #readAll(): Promise<void> {
    let live: ReadonlySet<Lane>;
    try {
      live = await this.#read([...this.#known]);
    } catch {
      this.#live = NONE; // broker unreachable: the group's queue until the next read succeeds
      return;
    }
    const before = this.#live;
    this.#live = live;
    if (this.#timer === null) return;
    for (const lane of before) if (!live.has(lane)) this.#onGone(lane);
  }

  /** Stops re-reading; waits for a read in flight. */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#reading;
  }
}
