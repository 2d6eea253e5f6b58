// One (service, lane) bucket: the lane's instances and the balancer state to choose among the
// pickable ones. Built when the registry changes; pick() is O(1) and allocation-free. Per-instance
// counters live in typed arrays indexed like `pickable`, so a pick touches contiguous memory.
import type { Instance } from '../instance';
import { buildTable, drawAlias, OUTSTANDING, STRIDE, WEIGHT } from './alias-table';
import { buildSchedule } from './schedule';

/** Balancer codes, as small integers so pick() switches on a number. */
export const ROUND_ROBIN = 0;
export const RANDOM = 1;
export const P2C = 2;
export type BalancerCode = typeof ROUND_ROBIN | typeof RANDOM | typeof P2C;

const EMPTY_SCHEDULE = new Uint32Array(0);

export class Bucket {
  /** The lane (`undefined` = base). */
  readonly lane: string | undefined;
  /** Every instance of the lane, pickable or not (for snapshots). */
  readonly all: readonly Instance[];
  /** Healthy instances with weight > 0 that are not ejected, in registry order. */
  readonly pickable: readonly Instance[];
  /** Healthy instances with weight > 0, ejected or not. */
  readonly eligible: number;
  /** Pickable instances given less than their weight because they warm up. */
  readonly warming: number;
  readonly size: number;
  /** Picks of `pickable[i]` since this bucket was built. */
  readonly picks: Float64Array;
  /** Packed per-instance records (alias columns, weight, outstanding): see alias-table.ts. */
  readonly #table: Float64Array;
  readonly #balancer: BalancerCode;
  readonly #schedule: Uint32Array;
  #position: number;

  constructor(
    lane: string | undefined,
    all: readonly Instance[],
    balancer: BalancerCode,
    ejected: ReadonlySet<string> | null = null,
    warmup: ReadonlyMap<string, number> | null = null,
  ) {
    this.lane = lane;
    this.all = all;
    const eligible = all.filter((i) => i.healthy !== false && i.weight > 0 && Number.isFinite(i.weight));
    this.eligible = eligible.length;
    const pickable =
      ejected === null || ejected.size === 0 ? eligible : eligible.filter((i) => !ejected.has(i.id));
    this.pickable = pickable;
    this.size = pickable.length;
    this.picks = new Float64Array(pickable.length);
    // Warming instances get `percent` of their weight; the others are scaled by 100 so that
    // every weight stays an integer when the registry's are (exact schedules, small periods).
    let warming = 0;
    if (warmup !== null) for (const i of pickable) if (warmup.has(i.id)) warming++;
    this.warming = warming;
    const weights =
      warming === 0
        ? pickable.map((i) => i.weight)
        : pickable.map((i) => i.weight * (warmup!.get(i.id) ?? 100));
    this.#table = buildTable(weights, balancer !== ROUND_ROBIN);
    this.#balancer = balancer;
    this.#schedule =
      balancer === ROUND_ROBIN && pickable.length > 0 ? buildSchedule(weights) : EMPTY_SCHEDULE;
    // Start anywhere in the period so clients (and rebuilds) do not all begin with instance 0.
    this.#position = this.#schedule.length > 0 ? Math.floor(Math.random() * this.#schedule.length) : 0;
  }

  /** Chooses one pickable instance and counts the pick. Call only when `size > 0`. */
  pick(): Instance {
    const index = this.next();
    this.picks[index]!++;
    return this.pickable[index]!;
  }

  /**
   * The index in `pickable` of the next choice; the balancer moves on, `picks` is not counted.
   * Call only when `size > 0`.
   */
  next(): number {
    if (this.size === 1) return 0;
    if (this.#balancer === ROUND_ROBIN) {
      const position = this.#position;
      this.#position = position + 1 === this.#schedule.length ? 0 : position + 1;
      return this.#schedule[position]!;
    }
    if (this.#balancer === RANDOM) return drawAlias(this.#table, this.size);
    return this.#twoChoices();
  }

  // Two weighted draws; the one with fewer outstanding requests per unit of weight wins (ties: the
  // first). With nothing outstanding this is exactly a weighted random choice.
  #twoChoices(): number {
    const table = this.#table;
    const a = drawAlias(table, this.size);
    const b = drawAlias(table, this.size);
    if (a === b) return a;
    const loadA = table[a * STRIDE + OUTSTANDING]! * table[b * STRIDE + WEIGHT]!;
    const loadB = table[b * STRIDE + OUTSTANDING]! * table[a * STRIDE + WEIGHT]!;
    return loadB < loadA ? b : a;
  }

  /** Requests in flight to `pickable[index]`. */
  outstandingAt(index: number): number {
    return this.#table[index * STRIDE + OUTSTANDING]!;
  }

  /** Adds `delta` to the requests in flight to `pickable[index]`, never going below 0. */
  addOutstanding(index: number, delta: number): void {
    const at = index * STRIDE + OUTSTANDING;
    const next = this.#table[at]! + delta;
    this.#table[at] = Math.max(next, 0);
  }
}
