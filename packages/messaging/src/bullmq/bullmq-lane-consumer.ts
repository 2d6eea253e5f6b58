import { type Lane, parseLane, withLane } from '@graylane/core';
import { type Job, type JobsOptions, Queue, Worker } from 'bullmq';
import { readMessageLane } from '../internal/lane-tag';
import { runInMessageLane } from '../internal/run-in-lane';
import { countConsumed, countFellBack, countRouted, publishLiveness } from '../message-counters';
import type { BullLaneProcessor, CompiledBullOptions } from './bullmq-consumer-options';
import { readBullLaneLiveness } from './bullmq-liveness';
import { LANE_WORKER_NAME, laneQueueName } from './bullmq-names';

/** Worker name of the base consumers' workers on lane queues (not counted as lane consumers). */
export const BASE_WORKER_NAME = 'graylane-base';
/** Name of the job a lane consumer adds to the work queue when it starts, so base consumers learn its lane. */
export const ANNOUNCE_JOB_NAME = 'graylane:announce';

interface LaneState {
  live: boolean | undefined;
  firstRead: Promise<void> | null;
  /** The base consumer's worker on the lane queue while the lane has no live worker. */
  drain: Worker | null;
  draining: Promise<void> | null;
}

/**
 * One member of a job queue shared by several lanes (both roles: see `consumeLanes`).
 */
export class BullLaneConsumer {
  readonly #options: CompiledBullOptions;
  readonly #processor: BullLaneProcessor;
  readonly #self: Lane | undefined;
  readonly #lanes = new Map<Lane, LaneState>();
  readonly #queues = new Map<string, Queue>();
  #worker: Worker | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: CompiledBullOptions, processor: BullLaneProcessor) {
    this.#options = options;
    this.#processor = processor;
    this.#self = options.routing.lane;
  }

  get lane(): Lane | undefined {
    return this.#self;
  }

  liveLanes(): Lane[] {
    if (this.#self !== undefined) return [this.#self];
    const live: Lane[] = [];
    for (const [lane, state] of this.#lanes) if (state.live === true) live.push(lane);
    return live.sort();
  }

  async start(): Promise<void> {
    const { queue, routing } = this.#options;
    if (this.#self !== undefined) {
      this.#worker = this.#newWorker(laneQueueName(queue, this.#self), LANE_WORKER_NAME, this.#self);
      await this.#worker.waitUntilReady();
      await this.#queue(queue).add(
        ANNOUNCE_JOB_NAME,
        { lane: this.#self },
        { removeOnComplete: true, removeOnFail: true },
      );
      return;
    }
    await Promise.all(this.#options.lanes.map((lane) => this.#track(lane).firstRead));
    this.#worker = this.#newWorker(queue, BASE_WORKER_NAME, undefined);
    await this.#worker.waitUntilReady();
    this.#timer = setInterval(() => void this.#poll(), routing.livenessIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    const workers = [this.#worker, ...[...this.#lanes.values()].map((s) => s.drain)];
    await Promise.allSettled(workers.map((w) => w?.close())); // each waits for its active jobs
    await Promise.allSettled([...this.#queues.values()].map((q) => q.close()));
  }

  #newWorker(name: string, workerName: string, source: Lane | undefined): Worker {
    const { connection, prefix, concurrency, lockDurationMs, stalledIntervalMs } = this.#options;
    // Made in its consumer's lane (a base consumer's in base): the worker's loops, started by its
    // constructor, run in it, so a job of that lane is processed without a context of its own.
    const worker = withLane(
      this.#self ?? null,
      () =>
        new Worker(name, (job: Job) => this.#process(job, source), {
          connection,
          concurrency,
          name: workerName,
          ...(prefix === undefined ? {} : { prefix }),
          ...(lockDurationMs === undefined ? {} : { lockDuration: lockDurationMs }),
          ...(stalledIntervalMs === undefined ? {} : { stalledInterval: stalledIntervalMs }),
        }),
    );
    worker.on('error', ignore); // connection errors: BullMQ reconnects
    return worker;
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      const { connection, prefix } = this.#options;
      queue = new Queue(name, { connection, ...(prefix === undefined ? {} : { prefix }) });
      queue.on('error', ignore);
      this.#queues.set(name, queue);
    }
    return queue;
  }

  async #process(job: Job, source: Lane | undefined): Promise<unknown> {
    const { routing, queue } = this.#options;
    if (job.name === ANNOUNCE_JOB_NAME && source === undefined && this.#self === undefined) {
      const lane = parseLane((job.data as { lane?: unknown } | null)?.lane);
      if (lane === undefined) return undefined;
      const known = this.#lanes.get(lane);
      // A lane seen before is read again now, so a worker that comes back gets its lane at once.
      if (known === undefined) await this.#track(lane).firstRead;
      else await this.#read(lane, known);
      return undefined;
    }
    const data = job.data as Record<string, unknown> | null;
    const raw = typeof data === 'object' && data !== null ? data[routing.header] : undefined;
    const lane = readMessageLane(raw, 'bullmq', routing.header);
    if (this.#self !== undefined) {
      // Untagged jobs never reach a lane consumer: one added straight to a lane queue goes back.
      if (lane === undefined) return this.#move(job, queue, undefined);
      return this.#handle(job, lane);
    }
    if (lane === undefined) return this.#handle(job, undefined);
    const chain = routing.chain(lane);
    for (const l of chain) {
      const state = this.#track(l);
      if (state.live === undefined && state.firstRead !== null) await state.firstRead;
    }
    for (const target of chain) {
      if (this.#lanes.get(target)?.live !== true) continue;
      if (target !== lane) countFellBack('bullmq', lane, target);
      return this.#move(job, laneQueueName(queue, target), target);
    }
    if (routing.strict(lane) && source !== lane) return this.#move(job, laneQueueName(queue, lane), lane);
    countFellBack('bullmq', lane, undefined);
    return this.#handle(job, lane);
  }

  /** Adds the job to `to` under a job id derived from its own, so a retried move adds nothing twice. */
  async #move(job: Job, to: string, target: Lane | undefined): Promise<{ graylane: string }> {
    const { attempts, backoff, removeOnComplete, removeOnFail, priority } = job.opts;
    const options: JobsOptions = {
      jobId: `gl-${job.queueName}-${job.id}`,
      ...(attempts === undefined ? {} : { attempts }),
      ...(backoff === undefined ? {} : { backoff }),
      ...(removeOnComplete === undefined ? {} : { removeOnComplete }),
      ...(removeOnFail === undefined ? {} : { removeOnFail }),
      ...(priority === undefined ? {} : { priority }),
    };
    await this.#queue(to).add(job.name, job.data, options);
    if (target !== undefined) countRouted(target);
    return { graylane: `moved to ${to}` };
  }

  async #handle(job: Job, lane: Lane | undefined): Promise<unknown> {
    try {
      const result = await runInMessageLane(lane, () => this.#processor(job, lane));
      countConsumed('bullmq', lane, this.#self, false);
      return result;
    } catch (error) {
      countConsumed('bullmq', lane, this.#self, true);
      throw error;
    }
  }

  #track(lane: Lane): LaneState {
    let state = this.#lanes.get(lane);
    if (state === undefined) {
      state = { live: undefined, firstRead: null, drain: null, draining: null };
      this.#lanes.set(lane, state);
      state.firstRead = this.#read(lane, state);
    }
    return state;
  }

  /** Reads the lane's liveness (see `readBullLaneLiveness`); runs or stops this consumer's worker on its queue. */
  async #read(lane: Lane, state: LaneState): Promise<void> {
    const { queue, routing } = this.#options;
    const live = await readBullLaneLiveness(this.#queue(laneQueueName(queue, lane)));
    if (live === undefined) return; // Redis unreachable: keep the last view
    if (state.live !== live) {
      state.live = live;
      publishLiveness('bullmq', queue, lane, live);
    }
    if (this.#closed || state.draining !== null) return;
    if (!live && !routing.strict(lane) && state.drain === null) {
      state.drain = this.#newWorker(laneQueueName(queue, lane), BASE_WORKER_NAME, lane);
    } else if (live && state.drain !== null) {
      const drain = state.drain;
      state.draining = drain.close().finally(() => {
        state.drain = null;
        state.draining = null;
      });
    }
  }

  async #poll(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#lanes].map(([lane, state]) => this.#read(lane, state)));
  }
}

function ignore(): void {}
