import { DEFAULT_WEIGHT, type Instance } from '../instance';
import type { PortSpec } from './options';
import { type PodLike, podHealthy, podPort } from './pod-instance';

/** The watch event types that carry a Pod (`BOOKMARK` and `ERROR` carry none). */
export type PodEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_INSTANCES: readonly Instance[] = Object.freeze([]);
// Label sets are shared between instances; the table is swept when it holds this many more
// sets than there are instances (old ReplicaSets' pod-template-hash sets after a rollout).
const LABEL_SWEEP_SLACK = 32;

/** True when `raw` holds exactly the entries of `known` (no allocation: most MODIFIED events keep labels). */
function sameLabels(
  known: Readonly<Record<string, string>>,
  raw: Readonly<Record<string, string>> | null | undefined,
): boolean {
  let count = 0;
  if (raw) {
    for (const key in raw) {
      if (known[key] !== raw[key] || !Object.hasOwn(known, key)) return false;
      count++;
    }
  }
  for (const _ in known) count--;
  return count === 0;
}

function byId(a: Instance, b: Instance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * One service's instances, keyed by Pod name: the event-apply step of the Kubernetes registry,
 * free of I/O so it can be driven directly (tests, benchmarks). A watch event touches only the set
 * it was delivered to; `instances()` is rebuilt lazily, once per change, sorted by id.
 *
 * Pods of one ReplicaSet carry identical labels, so equal label sets are shared (one frozen object
 * per distinct set), which is most of an instance's memory.
 *
 * @example
 * ```ts
 * const set = new PodSet('http');
 * set.apply('ADDED', pod);   // true: the set changed
 * set.instances();           // frozen, sorted by id
 * ```
 */
export class PodSet {
  readonly #port: PortSpec;
  #byName = new Map<string, Instance>();
  #labels = new Map<string, Readonly<Record<string, string>>>();
  #snapshot: readonly Instance[] | undefined = NO_INSTANCES;
  // Pod names in id order; kept while only existing Pods change, so a rebuild needs no sort.
  #order: string[] | undefined = [];

  /** `port`: the service's port option (name, number, or `undefined` for the first declared port). */
  constructor(port: PortSpec) {
    this.#port = port;
  }

  /** Number of callable Pods (with an IP and a matching port), healthy or not. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * Applies one watch event. Returns true when the delivered set changed: a status update that
   * leaves address, port, readiness and labels as they were returns false.
   */
  apply(type: PodEventType, pod: PodLike): boolean {
    const name = pod.metadata?.name;
    if (typeof name !== 'string' || name.length === 0) return false;
    const previous = this.#byName.get(name);
    if (type === 'DELETED') {
      if (previous === undefined) return false;
      this.#byName.delete(name);
      this.#snapshot = undefined;
      this.#order = undefined;
      return true;
    }
    const next = this.#instance(name, pod, previous);
    if (next === previous) return false;
    if (next === undefined || previous === undefined) this.#order = undefined;
    if (next === undefined) this.#byName.delete(name);
    else this.#byName.set(name, next);
    this.#snapshot = undefined;
    if (this.#labels.size > this.#byName.size + LABEL_SWEEP_SLACK) this.#sweepLabels();
    return true;
  }

  /** Replaces the whole set with a fresh list (a relist). Returns true when the set changed. */
  replace(pods: Iterable<PodLike>): boolean {
    const previous = this.#byName;
    const next = new Map<string, Instance>();
    let changed = false;
    for (const pod of pods) {
      const name = pod.metadata?.name;
      if (typeof name !== 'string' || name.length === 0) continue;
      const before = previous.get(name);
      const instance = this.#instance(name, pod, before);
      if (instance !== before) changed = true;
      if (instance !== undefined) next.set(name, instance);
    }
    if (!changed && next.size !== previous.size) changed = true;
    this.#byName = next;
    if (changed) {
      this.#snapshot = undefined;
      this.#order = undefined;
    }
    if (this.#labels.size > next.size + LABEL_SWEEP_SLACK) this.#sweepLabels();
    return changed;
  }

  /** The current instances, sorted by id. The same frozen array until the next change. */
  instances(): readonly Instance[] {
    if (this.#snapshot !== undefined) return this.#snapshot;
    let list: Instance[];
    if (this.#order === undefined) {
      list = [...this.#byName.values()].sort(byId);
      this.#order = list.map((instance) => instance.id);
    } else {
      const order = this.#order;
      list = new Array<Instance>(order.length);
      for (let i = 0; i < order.length; i++) list[i] = this.#byName.get(order[i]!)!;
    }
    this.#snapshot = Object.freeze(list);
    return this.#snapshot;
  }

  #instance(name: string, pod: PodLike, previous: Instance | undefined): Instance | undefined {
    const host = pod.status?.podIP;
    if (typeof host !== 'string' || host.length === 0) return undefined;
    const port = podPort(pod, this.#port);
    if (port === undefined) return undefined;
    const healthy = podHealthy(pod);
    const raw = pod.metadata?.labels;
    const labels =
      previous !== undefined && sameLabels(previous.labels, raw) ? previous.labels : this.#intern(raw);
    if (
      previous !== undefined &&
      previous.host === host &&
      previous.port === port &&
      previous.healthy === healthy &&
      previous.labels === labels
    ) {
      return previous;
    }
    return Object.freeze({ id: name, host, port, labels, weight: DEFAULT_WEIGHT, healthy });
  }

  #intern(raw: Readonly<Record<string, string>> | null | undefined): Readonly<Record<string, string>> {
    if (!raw) return EMPTY_LABELS;
    const keys = Object.keys(raw).sort();
    if (keys.length === 0) return EMPTY_LABELS;
    let key = '';
    for (let i = 0; i < keys.length; i++) key += `${keys[i]}\u0000${raw[keys[i]!]}\u0000`;
    const known = this.#labels.get(key);
    if (known !== undefined) return known;
    const labels: Record<string, string> = {};
    for (let i = 0; i < keys.length; i++) {
      const value = raw[keys[i]!];
      if (typeof value === 'string') labels[keys[i]!] = value;
    }
    Object.freeze(labels);
    this.#labels.set(key, labels);
    return labels;
  }

  #sweepLabels(): void {
    const live = new Set<Readonly<Record<string, string>>>();
    for (const instance of this.#byName.values()) live.add(instance.labels);
    for (const [key, labels] of this.#labels) if (!live.has(labels)) this.#labels.delete(key);
  }
}
