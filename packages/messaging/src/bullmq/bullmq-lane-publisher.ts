import { assertKnownOptions, currentLane, type Lane, parseLane } from '@graylane/core';
import { type ConnectionOptions, type Job, type JobsOptions, Queue } from 'bullmq';
import { checkOptionsObject } from '../internal/consumer-setup';
import { LiveLaneCache } from '../internal/live-lane-cache';
import { compileLanePublisherOptions } from '../internal/publisher-setup';
import type { LanePublisherHandle, LanePublisherOptions } from '../lane-publisher';
import { checkBullGroup } from './bullmq-consumer-options';
import { readBullLaneLiveness } from './bullmq-liveness';
import { laneQueueName } from './bullmq-names';

/** Options of `createLanePublisher` (BullMQ): the group's queue as its `consumeLanes` workers take it. */
export interface BullLanePublisherOptions extends LanePublisherOptions {
  /** The queue producers add jobs to. */
  readonly queue: string;
  /** BullMQ connection (as for `new Queue`). */
  readonly connection: ConnectionOptions;
  /** BullMQ key prefix. Default BullMQ's (`bull`). */
  readonly prefix?: string | undefined;
}

const BULL_PUBLISHER_OPTION_KEYS: readonly string[] = Object.keys({
  queue: 1,
  connection: 1,
  prefix: 1,
  livenessIntervalMs: 1,
  header: 1,
  lanes: 1,
} satisfies Record<keyof BullLanePublisherOptions, 1>);

/** One job of {@link BullLanePublisher.addBulk}, as for `queue.addBulk`. */
export interface BullLaneJob {
  readonly name: string;
  readonly data: unknown;
  readonly opts?: JobsOptions | undefined;
}

/** What {@link createLanePublisher} (BullMQ) returns. */
export interface BullLanePublisher extends LanePublisherHandle {
  /**
   * `queue.add(name, data, opts)` with the current lane in the data (as `laneJobData`): added
   * straight to `<queue>~<lane>` while that lane has a live worker, else to `queue`. Untagged jobs,
   * and jobs with `opts.deduplication` or `opts.parent` (both scoped to the queue they are added to),
   * always go to `queue`.
   */
  add(name: string, data: unknown, opts?: JobsOptions): Promise<Job>;
  /** `queue.addBulk(jobs)`, each job routed as by {@link BullLanePublisher.add}; jobs in the order given. */
  addBulk(jobs: readonly BullLaneJob[]): Promise<Job[]>;
}

/**
 * A producer for a queue processed with `consumeLanes`, that adds each lane job straight to its
 * lane's queue while that lane has a live worker — so it is added and processed once, instead of
 * being moved by a base worker first. Which lanes are live it reads as base consumers do (workers
 * named `graylane-lane` on the lane's queue, Redis `CLIENT LIST`) every `livenessIntervalMs`;
 * lanes not read live, and untagged jobs, go to `queue` (base workers route them as without the
 * publisher).
 *
 * The cache only decides which queue a job enters first: a job added to the queue of a lane whose
 * last worker just stopped is processed by base workers like any waiting lane job (within one
 * liveness interval once Redis has dropped the worker's connection; strict lanes: it waits for the
 * lane's worker).
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) for bad options.
 * @example
 * const orders = await createLanePublisher({ queue: 'orders', connection: { host: '127.0.0.1' } });
 * await orders.add('reserve', { order: 42 }); // in the request's lane
 */
export async function createLanePublisher(options: BullLanePublisherOptions): Promise<BullLanePublisher> {
  checkOptionsObject(options, '{ queue, connection, ... }');
  assertKnownOptions(
    'createLanePublisher() (@graylane/messaging/bullmq)',
    options,
    BULL_PUBLISHER_OPTION_KEYS,
  );
  checkBullGroup(options);
  const compiled = compileLanePublisherOptions(options);
  const publisher = new BullLanePublisherImpl(options, compiled);
  await publisher.cache.refresh();
  return publisher;
}

class BullLanePublisherImpl implements BullLanePublisher {
  readonly cache: LiveLaneCache;
  readonly #group: BullLanePublisherOptions;
  readonly #header: string;
  readonly #queue: Queue;
  readonly #laneQueues = new Map<Lane, Queue>();

  constructor(
    group: BullLanePublisherOptions,
    options: { header: string; livenessIntervalMs: number; lanes: readonly Lane[] },
  ) {
    this.#group = group;
    this.#header = options.header;
    this.#queue = this.#newQueue(group.queue);
    this.cache = new LiveLaneCache(
      async (lanes) => {
        const before = new Set(this.cache.liveLanes());
        const live = new Set<Lane>();
        const reads = lanes.map(async (lane) => {
          const read = await readBullLaneLiveness(this.#laneQueue(lane));
          // Cannot tell (Redis unreachable): keep the last view, as base consumers do.
          if (read === true || (read === undefined && before.has(lane))) live.add(lane);
        });
        await Promise.all(reads);
        return live;
      },
      options.livenessIntervalMs,
      options.lanes,
      ignore,
    );
  }

  add(name: string, data: unknown, opts?: JobsOptions): Promise<Job> {
    const lane = this.#laneOf(data);
    if (lane === undefined) return this.#queue.add(name, data, opts); // untagged: as the plain client
    return this.#target(lane, opts).add(name, this.#tagged(data, lane), opts);
  }

  async addBulk(jobs: readonly BullLaneJob[]): Promise<Job[]> {
    const byQueue = new Map<Queue, { at: number[]; jobs: BullLaneJob[] }>();
    for (let i = 0; i < jobs.length; i++) {
      let job = jobs[i]!;
      let queue = this.#queue;
      const lane = this.#laneOf(job.data);
      if (lane !== undefined) {
        const data = this.#tagged(job.data, lane);
        if (data !== job.data) job = { name: job.name, data, opts: job.opts };
        queue = this.#target(lane, job.opts);
      }
      let list = byQueue.get(queue);
      if (list === undefined) {
        list = { at: [], jobs: [] };
        byQueue.set(queue, list);
      }
      list.at.push(i);
      list.jobs.push(job);
    }
    if (byQueue.size <= 1) {
      const [queue, list] = byQueue.entries().next().value ?? [this.#queue, { jobs: [] }];
      return queue.addBulk(bulk(list.jobs));
    }
    const out = new Array<Job>(jobs.length);
    await Promise.all(
      [...byQueue].map(async ([queue, list]) => {
        const added = await queue.addBulk(bulk(list.jobs));
        for (let k = 0; k < added.length; k++) out[list.at[k]!] = added[k]!;
      }),
    );
    return out;
  }

  liveLanes(): Lane[] {
    return this.cache.liveLanes();
  }

  async close(): Promise<void> {
    await this.cache.close();
    await Promise.allSettled([this.#queue, ...this.#laneQueues.values()].map((q) => q.close()));
  }

  /** The job's lane: an existing tag in the data (as in laneJobData), else the current lane if the data can carry it. */
  #laneOf(data: unknown): Lane | undefined {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
    const tag = (data as Record<string, unknown>)[this.#header];
    if (tag !== undefined) return parseLane(tag); // an invalid tag goes to base workers, which count it
    return currentLane();
  }

  #tagged(data: unknown, lane: Lane): unknown {
    const record = data as Record<string, unknown>;
    return record[this.#header] !== undefined ? data : { ...record, [this.#header]: lane };
  }

  #target(lane: Lane, opts: JobsOptions | undefined): Queue {
    // A deduplication id is scoped to one queue and a parent names its queue: such jobs stay in the group's.
    if (opts?.deduplication !== undefined || opts?.parent !== undefined || !this.cache.isLive(lane))
      return this.#queue;
    return this.#laneQueue(lane);
  }

  #laneQueue(lane: Lane): Queue {
    let queue = this.#laneQueues.get(lane);
    if (queue === undefined) {
      queue = this.#newQueue(laneQueueName(this.#group.queue, lane));
      this.#laneQueues.set(lane, queue);
    }
    return queue;
  }

  #newQueue(name: string): Queue {
    const { connection, prefix } = this.#group;
    const queue = new Queue(name, { connection, ...(prefix === undefined ? {} : { prefix }) });
    queue.on('error', ignore); // connection errors: BullMQ reconnects; calls reject meanwhile
    return queue;
  }
}

type BulkJobs = Parameters<Queue['addBulk']>[0];

// `exactOptionalPropertyTypes`-safe: BullMQ's job type has no `opts: undefined`.
function bulk(jobs: readonly BullLaneJob[]): BulkJobs {
  return jobs.map((j) =>
    j.opts === undefined ? { name: j.name, data: j.data } : { name: j.name, data: j.data, opts: j.opts },
  );
}

function ignore(): void {}
