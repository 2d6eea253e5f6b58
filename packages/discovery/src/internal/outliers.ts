// Passive outlier ejection for one service: per-instance failure streaks fed by the integrations,
// ejections that grow with repetition, probation on return, and the per-lane cap. An ejection or
// return rebuilds the service's buckets (rare), so pick() itself never looks at any of this.
import { discoveryChannels, type OutlierReason } from '../diagnostics';

import type { Instance } from '../instance';
import type { CallOutcome, OutlierConfig } from '../outlier-detection';

/** Everything known about one instance that failed at least once. */
export interface OutlierRecord {
  readonly id: string;
  instance: Instance;
  /** The instance's lane (`undefined` = base) when last seen in a bucket. */
  lane: string | undefined;
  /** Connect failures and timeouts in a row. */
  failures: number;
  /** 5xx / UNAVAILABLE in a row. */
  errors: number;
  /** Ejections in a row (reset after `maxEjectionMs` without trouble since the last return). */
  ejections: number;
  /** When the current ejection ends (0: not ejected). */
  ejectedUntil: number;
  /** Returned from an ejection and not yet succeeded. */
  probation: boolean;
  /** When it last returned (0: never). */
  returnedAt: number;
  timer: NodeJS.Timeout | null;
}

/** What the outlier tracker needs from its service. */
export interface OutlierHost {
  readonly service: string;
  /** Healthy, weight > 0 instances of `lane`, ejected or not. */
  eligibleIn(lane: string | undefined): number;
  /** Rebuilds the buckets from the current set and ejections. */
  rebuild(): void;
  /** `id` returned from an ejection (called before the rebuild). */
  returned(id: string): void;
}

export class Outliers {
  readonly #config: OutlierConfig;
  readonly #host: OutlierHost;
  readonly records = new Map<string, OutlierRecord>();
  /** Ids currently ejected. */
  readonly ejected = new Set<string>();
  /** Ejections ever made (for diagnostics). */
  total = 0;
  /** Ejections refused by `maxEjectionPercent`. */
  capped = 0;

  constructor(config: OutlierConfig, host: OutlierHost) {
    this.#config = config;
    this.#host = host;
  }

  /** A call to `id` succeeded: its streaks and any probation end. Allocation-free. */
  succeeded(id: string): void {
    const record = this.records.get(id);
    if (record === undefined) return;
    record.failures = 0;
    record.errors = 0;
    if (record.probation) record.probation = false;
  }

  /** Records one call's outcome. */
  record(instance: Instance, lane: string | undefined, outcome: CallOutcome, now: number): void {
    if (outcome === 'success') {
      this.succeeded(instance.id);
      return;
    }
    let record = this.records.get(instance.id);
    if (record === undefined) {
      record = {
        id: instance.id,
        instance,
        lane,
        failures: 0,
        errors: 0,
        ejections: 0,
        ejectedUntil: 0,
        probation: false,
        returnedAt: 0,
        timer: null,
      };
      this.records.set(instance.id, record);
    }
    if (record.ejectedUntil !== 0) return; // already out (a call that started before the ejection)
    record.lane = lane;
    let tripped: boolean;
    if (outcome === 'server-error') {
      if (this.#config.consecutive5xx === 0) return;
      record.errors++;
      tripped = record.probation || record.errors >= this.#config.consecutive5xx;
    } else {
      record.failures++;
      tripped = record.probation || record.failures >= this.#config.consecutiveFailures;
    }
    if (tripped) this.#eject(record, outcome, now);
  }

  /** Forgets instances that left the registry; keeps the rest (ids are stable across updates). */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, record] of this.records) {
      if (ids.has(id)) continue;
      if (record.timer !== null) clearTimeout(record.timer);
      this.records.delete(id);
      this.ejected.delete(id);
    }
  }

  /** Stops every timer (discovery closed). */
  close(): void {
    for (const record of this.records.values()) {
      if (record.timer !== null) clearTimeout(record.timer);
      record.timer = null;
    }
  }

  #eject(record: OutlierRecord, reason: OutlierReason, now: number): void {
    const config = this.#config;
    const lane = record.lane;
    let out = 0;
    for (const id of this.ejected) if (this.records.get(id)!.lane === lane) out++;
    const eligible = this.#host.eligibleIn(lane);
    const allowed = Math.max(1, Math.floor((eligible * config.maxEjectionPercent) / 100));
    if (out + 1 > allowed) {
      this.capped++;
      publish('capped', this.#host.service, record, reason);
      return;
    }
    if (record.returnedAt !== 0 && !record.probation && now - record.returnedAt >= config.maxEjectionMs) {
      record.ejections = 0; // out of trouble long enough: start over
    }
    record.ejections++;
    const durationMs = Math.min(config.baseEjectionMs * record.ejections, config.maxEjectionMs);
    record.ejectedUntil = now + durationMs;
    record.failures = 0;
    record.errors = 0;
    record.probation = false;
    this.ejected.add(record.id);
    this.total++;
    record.timer = setTimeout(() => this.#return(record), durationMs);
    record.timer.unref();
    this.#host.rebuild();
    publish('ejected', this.#host.service, record, reason, durationMs);
  }

  #return(record: OutlierRecord): void {
    record.timer = null;
    if (!this.ejected.delete(record.id)) return;
    record.ejectedUntil = 0;
    record.probation = true;
    record.returnedAt = Date.now();
    this.#host.returned(record.id);
    this.#host.rebuild();
    publish('returned', this.#host.service, record, undefined);
  }
}

function publish(
  event: 'ejected' | 'returned' | 'capped',
  service: string,
  record: OutlierRecord,
  reason: OutlierReason | undefined,
  durationMs?: number,
): void {
  if (!discoveryChannels.outlier.hasSubscribers) return;
  const { id, host, port } = record.instance;
  discoveryChannels.outlier.publish({
    event,
    service,
    lane: record.lane,
    instance: { id, host, port },
    ...(reason === undefined ? {} : { reason }),
    ejections: record.ejections,
    ...(durationMs === undefined ? {} : { durationMs }),
  });
}
