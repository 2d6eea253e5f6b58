import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Lane, withLane } from '@graylane/core';
import { readMessageLane } from '../internal/lane-tag';
import { runInMessageLane } from '../internal/run-in-lane';
import { isThenable } from '../internal/thenable';
import { countConsumed, countFellBack, countRouted, publishLiveness } from '../message-counters';
import type { CompiledStreamOptions, StreamEntry, StreamLaneHandler } from './stream-consumer-options';
import { HEARTBEAT_SCRIPT, MOVE_SCRIPT, readStreamLiveness } from './stream-liveness';
import { laneStreamName, lanesKey, presenceKey } from './stream-names';

/** The Redis client calls used (ioredis `Redis` fits). */
export interface StreamsClient {
  call(command: string, args: Array<string | Buffer | number>): Promise<unknown>;
  duplicate(): StreamsClient;
  disconnect(): void;
}

type RawEntry = [id: string, fields: string[] | null];
type ReadReply = Array<[stream: string, entries: RawEntry[]]> | null;

/**
 * One member of a consumer group shared by several lanes (both roles: see `consumeLanes`). Reads
 * with `XREADGROUP` on its own blocking connection; the base consumer reads the stream plus the
 * lane streams it drains, a lane consumer its lane stream only. What the read loop does between
 * reads (claim, move, `XACK`) goes on that connection too, so it never queues behind the traffic
 * of the client you passed (heartbeats and liveness reads, on timers, use that one).
 */
export class StreamLaneConsumer {
  readonly #options: CompiledStreamOptions;
  readonly #redis: StreamsClient;
  readonly #reader: StreamsClient;
  readonly #handler: StreamLaneHandler;
  readonly #me: string;
  readonly #self: Lane | undefined;
  readonly #groups = new Set<string>();
  #readerId: unknown = null;
  #live = new Set<Lane>();
  #known = new Set<Lane>();
  #draining: Lane[] = [];
  #closed = false;
  #loop: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastClaimAt = 0;

  constructor(options: CompiledStreamOptions, redis: StreamsClient, handler: StreamLaneHandler) {
    this.#options = options;
    this.#redis = redis;
    this.#reader = redis.duplicate();
    this.#handler = handler;
    this.#self = options.routing.lane;
    this.#me = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  get lane(): Lane | undefined {
    return this.#self;
  }

  /** Lanes with a live consumer as last read (a lane consumer: its own). */
  liveLanes(): Lane[] {
    return this.#self === undefined ? [...this.#live].sort() : [this.#self];
  }

  async start(): Promise<void> {
    const { stream, startId, routing } = this.#options;
    this.#readerId = await this.#reader.call('CLIENT', ['ID']);
    if (this.#self === undefined) {
      await this.#ensureGroup(stream, startId);
      for (const lane of this.#options.lanes) this.#known.add(lane);
      await this.#refresh();
    } else {
      await this.#ensureGroup(laneStreamName(stream, this.#self), '0');
      await this.#heartbeat();
    }
    this.#timer = setInterval(() => void this.#tick(), routing.livenessIntervalMs);
    this.#timer.unref();
    // The loop runs in its consumer's lane, so each entry of that lane is handled without a context of its own.
    this.#loop = withLane(this.#self ?? null, () => this.#run());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#unblock();
    await this.#loop; // finishes and acks what it holds
    if (this.#self !== undefined) {
      await this.#redis
        .call('ZREM', [presenceKey(this.#options.stream), `${this.#self} ${this.#me}`])
        .catch(() => undefined);
    }
    this.#reader.disconnect();
  }

  async #tick(): Promise<void> {
    try {
      if (this.#self === undefined) await this.#refresh();
      else await this.#heartbeat();
    } catch {
      // Redis unreachable: keep the last view; the next tick retries
    }
  }

  async #heartbeat(): Promise<void> {
    const { stream, livenessTtlMs } = this.#options;
    await this.#redis.call('EVAL', [
      HEARTBEAT_SCRIPT,
      2,
      presenceKey(stream),
      lanesKey(stream),
      `${this.#self} ${this.#me}`,
      livenessTtlMs,
      this.#self as string,
    ]);
  }

  /** Base: re-reads the live lanes; changes the set of drained lane streams at once (unblocking the read). */
  async #refresh(): Promise<void> {
    const { stream, routing } = this.#options;
    const { live, lanes } = await readStreamLiveness(this.#redis, stream);
    for (const lane of lanes) this.#known.add(lane);
    for (const lane of this.#known) {
      if (live.has(lane) !== this.#live.has(lane))
        publishLiveness('redis-streams', stream, lane, live.has(lane));
    }
    this.#live = live;
    const draining = [...this.#known].filter((l) => !live.has(l) && !routing.strict(l)).sort();
    if (draining.join(' ') !== this.#draining.join(' ')) {
      for (const lane of draining) await this.#ensureGroup(laneStreamName(stream, lane), '0');
      this.#draining = draining;
      this.#lastClaimAt = 0; // claim what the gone consumers held, now
      await this.#unblock();
    }
  }

  async #unblock(): Promise<void> {
    if (this.#readerId !== null)
      await this.#redis.call('CLIENT', ['UNBLOCK', String(this.#readerId)]).catch(() => 0);
  }

  async #ensureGroup(key: string, startId: string): Promise<void> {
    if (this.#groups.has(key)) return;
    try {
      await this.#redis.call('XGROUP', ['CREATE', key, this.#options.group, startId, 'MKSTREAM']);
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.#groups.add(key);
  }

  async #run(): Promise<void> {
    const { stream, group, batch, routing } = this.#options;
    while (!this.#closed) {
      const streams =
        this.#self === undefined
          ? [stream, ...this.#draining.map((l) => laneStreamName(stream, l))]
          : [laneStreamName(stream, this.#self)];
      try {
        await this.#claim(streams);
        const reply = (await this.#reader.call('XREADGROUP', [
          'GROUP',
          group,
          this.#me,
          'COUNT',
          batch,
          'BLOCK',
          routing.livenessIntervalMs,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        ])) as ReadReply;
        if (reply === null) continue;
        for (const [key, entries] of reply) await this.#processAll(key, entries);
      } catch {
        if (this.#closed) return;
        await new Promise((r) => setTimeout(r, routing.livenessIntervalMs).unref());
      }
    }
  }

  /**
   * Claims entries whose consumer is gone: on a drained lane stream everything pending longer than
   * the liveness TTL (its consumers are all gone), elsewhere what is pending longer than `claimIdleMs`.
   */
  async #claim(streams: readonly string[]): Promise<void> {
    const { stream, group, batch, claimIdleMs, livenessTtlMs } = this.#options;
    const now = Date.now();
    if (now - this.#lastClaimAt < Math.min(claimIdleMs, livenessTtlMs)) return;
    this.#lastClaimAt = now;
    for (const key of streams) {
      const minIdle = this.#self === undefined && key !== stream ? livenessTtlMs : claimIdleMs;
      let cursor = '0-0';
      do {
        const [next, entries] = (await this.#reader.call('XAUTOCLAIM', [
          key,
          group,
          this.#me,
          minIdle,
          cursor,
          'COUNT',
          batch,
        ])) as [string, RawEntry[]];
        cursor = next;
        await this.#processAll(key, entries);
      } while (cursor !== '0-0' && !this.#closed);
    }
  }

  /**
   * Processes a batch of one stream concurrently, then acks what was handled in one `XACK`. Entries
   * handled by a handler that returns no promise cost no promise of their own.
   */
  async #processAll(key: string, entries: readonly RawEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const ids: string[] = [];
    let waits: Promise<void>[] | null = null;
    for (const entry of entries) {
      const done = this.#process(key, entry);
      if (done === true) ids.push(entry[0]);
      else if (done !== false) {
        waits ??= [];
        waits.push(
          done.then((ok) => {
            if (ok) ids.push(entry[0]);
          }),
        );
      }
    }
    if (waits !== null) await Promise.all(waits);
    if (ids.length > 0) await this.#reader.call('XACK', [key, this.#options.group, ...ids]);
  }

  /** Handles, moves or routes one entry; `true` when it is to be acked on `key` (handled, or deleted). */
  #process(key: string, [id, fields]: RawEntry): boolean | Promise<boolean> {
    const { stream, routing } = this.#options;
    if (fields === null) return true; // deleted before we read it
    const entry: StreamEntry = { stream: key, id, fields };
    const lane = readMessageLane(fieldValue(fields, routing.header), 'redis-streams', routing.header);
    if (this.#self !== undefined) {
      // Untagged entries never reach a lane consumer: one put straight into a lane stream goes back.
      if (lane !== undefined) return this.#handle(entry, lane);
      return this.#move(key, stream, entry).then(no);
    }
    if (lane === undefined) return this.#handle(entry, undefined);
    const chain = routing.chain(lane);
    for (const target of chain) {
      if (!this.#live.has(target)) continue;
      if (target !== lane) countFellBack('redis-streams', lane, target);
      return this.#route(key, entry, target).then(no); // the move acked it
    }
    const source = key === stream ? undefined : key.slice(stream.length + 1);
    if (routing.strict(lane) && source !== lane) return this.#route(key, entry, lane).then(no);
    countFellBack('redis-streams', lane, undefined);
    return this.#handle(entry, lane);
  }

  async #route(key: string, entry: StreamEntry, target: Lane): Promise<void> {
    const { stream } = this.#options;
    const targetKey = laneStreamName(stream, target);
    if (!this.#groups.has(targetKey)) {
      await this.#ensureGroup(targetKey, '0');
      await this.#redis.call('SADD', [lanesKey(stream), target]);
      this.#known.add(target);
    }
    if (await this.#move(key, targetKey, entry)) countRouted(target);
  }

  async #move(from: string, to: string, entry: StreamEntry): Promise<boolean> {
    const acked = await this.#reader.call('EVAL', [
      MOVE_SCRIPT,
      2,
      from,
      to,
      this.#options.group,
      entry.id,
      ...entry.fields,
    ]);
    return acked === 1;
  }

  /** Runs the handler in `lane`; `true` when it succeeded (a failed entry stays pending: retried after claimIdleMs). */
  #handle(entry: StreamEntry, lane: Lane | undefined): boolean | Promise<boolean> {
    let result: unknown;
    try {
      result = runInMessageLane(lane, () => this.#handler(entry, lane));
    } catch {
      return this.#count(lane, true);
    }
    if (!isThenable(result)) return this.#count(lane, false);
    return Promise.resolve(result).then(
      () => this.#count(lane, false),
      () => this.#count(lane, true),
    );
  }

  #count(lane: Lane | undefined, failed: boolean): boolean {
    countConsumed('redis-streams', lane, this.#self, failed);
    return !failed;
  }
}

function no(): false {
  return false;
}

function fieldValue(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
