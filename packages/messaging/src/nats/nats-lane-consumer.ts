import { InvalidOptionError, type Lane, parseLane, withLane } from '@graylane/core';
import {
  AckPolicy,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { readMessageLane } from '../internal/lane-tag';
import { runInMessageLane } from '../internal/run-in-lane';
import { isThenable } from '../internal/thenable';
import { countConsumed, countFellBack, countRouted, publishLiveness } from '../message-counters';
import type { CompiledNatsOptions, NatsLaneHandler } from './nats-consumer-options';
import { helloSubject, readNatsLaneLiveness } from './nats-liveness';
import {
  allLaneSubjects,
  allPresenceSubjects,
  laneDurableName,
  laneOfDurable,
  laneSubject,
  presenceSubject,
} from './nats-names';
import { subjectCovers, subjectsOverlap } from './nats-subjects';

/** Header a base consumer adds when it moves a message to a lane subject: where it was published. */
export const ORIGIN_SUBJECT_HEADER = 'x-graylane-subject';

interface LaneState {
  live: boolean | undefined;
  firstRead: Promise<void> | null;
  durable: Promise<unknown> | null;
  /** The drain loop while this base consumer reads the lane's durable (no live lane consumer). */
  drain: Promise<void> | null;
}

// Headers a publisher's `expect` option sets: they name the stream it was published to, so a
// republish to another stream that kept them would be refused.
const EXPECTED_PREFIX = 'nats-expected-';

/** The headers of a message to republish it elsewhere (from a tagged message: never empty). */
function republishHeaders(message: JsMsg): MsgHdrs {
  const headers = message.headers!;
  for (const key of headers.keys()) if (key.toLowerCase().startsWith(EXPECTED_PREFIX)) headers.delete(key);
  return headers;
}

/**
 * The raw tag of a message: `undefined` when the header is absent. Read by walking the decoded
 * headers (`MsgHdrs` is iterable) rather than with `get`/`has`, which copy every key into an array
 * and filter it on each call: the tag is read once per message, by every consumer.
 */
function tagOf(headers: MsgHdrs | undefined, header: string): string | undefined {
  if (headers === undefined) return undefined;
  for (const [key, values] of headers) if (key === header) return values[0] ?? '';
  return undefined;
}

// fetch() holds a pull request open this long at most (the client's minimum is 1 s).
const MIN_EXPIRES_MS = 1000;

/**
 * One member of a consumer group shared by several lanes (both roles: see `consumeLanes`). Pulls
 * in batches with `fetch()`, so stopping never strands a delivered message.
 */
export class NatsLaneConsumer {
  readonly #options: CompiledNatsOptions;
  readonly #nc: NatsConnection;
  readonly #handler: NatsLaneHandler;
  readonly #self: Lane | undefined;
  readonly #lanes = new Map<Lane, LaneState>();
  #js!: JetStreamClient;
  #jsm!: JetStreamManager;
  #presence: Subscription | null = null;
  #hello: Subscription | null = null;
  #main: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: CompiledNatsOptions, nc: NatsConnection, handler: NatsLaneHandler) {
    this.#options = options;
    this.#nc = nc;
    this.#handler = handler;
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
    const { stream, durable, laneStream, prefix, filterSubject, routing } = this.#options;
    this.#jsm = await jetstreamManager(this.#nc);
    this.#js = jetstream(this.#nc);
    await this.#ensureLaneStream();
    if (this.#self !== undefined) {
      const name = laneDurableName(durable, this.#self);
      await this.#ensureDurable(laneStream, name, laneSubject(prefix, this.#self));
      this.#presence = this.#nc.subscribe(presenceSubject(prefix, this.#self), {
        callback: (_error, message) => void message.respond(),
      });
      this.#nc.publish(helloSubject(prefix), this.#self); // base consumers learn the lane at once
      await this.#nc.flush();
      const self = this.#self;
      this.#main = withLane(self, () => this.#loop(laneStream, name, self, () => true));
      return;
    }
    this.#hello = this.#nc.subscribe(helloSubject(prefix), {
      callback: (_error, message) => {
        const lane = parseLane(message.string());
        if (lane === undefined) return;
        const known = this.#lanes.get(lane);
        if (known === undefined) this.#track(lane);
        else void this.#read(lane, known); // a consumer that comes back gets its lane at once
      },
    });
    const base = await this.#ensureDurable(stream, durable, filterSubject);
    if (laneStream === stream) {
      // An existing base durable keeps its filter: it too must stay off the lane subjects.
      const { filter_subject: one, filter_subjects: many } = base.config;
      const filters = many ?? (one === undefined || one === '' ? [] : [one]);
      const lanes = allLaneSubjects(prefix);
      if (filters.length === 0 || filters.some((f) => subjectsOverlap(f, lanes)))
        throw new InvalidOptionError('durable', `durable ${durable} on ${stream} reads ${lanes}`);
    }
    const known = new Set<Lane>(this.#options.lanes);
    for await (const info of this.#jsm.consumers.list(laneStream)) {
      const lane = laneOfDurable(durable, info.name);
      if (lane !== undefined) known.add(lane);
    }
    await Promise.all([...known].map((lane) => this.#track(lane).firstRead));
    this.#main = withLane(null, () => this.#loop(stream, durable, undefined, () => true));
    this.#timer = setInterval(() => void this.#poll(), routing.livenessIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#presence !== null) {
      this.#presence.unsubscribe(); // base consumers see "no responders" from now on
      await this.#nc.flush().catch(() => undefined);
    }
    this.#closed = true;
    this.#hello?.unsubscribe();
    if (this.#timer !== null) clearInterval(this.#timer);
    await Promise.allSettled([this.#main, ...[...this.#lanes.values()].map((s) => s.drain)]);
  }

  /**
   * The lane stream: checked when it exists (it must capture the lane subjects and not the presence
   * ones, which JetStream would answer: every lane would read live), else created with the work
   * stream's storage and replicas, so a moved message is kept as safely as where it came from.
   */
  async #ensureLaneStream(): Promise<void> {
    const { laneStream, stream, prefix } = this.#options;
    const lanes = allLaneSubjects(prefix);
    let info: StreamInfo;
    try {
      info = await this.#jsm.streams.info(laneStream);
    } catch (error) {
      if (laneStream === stream) throw error;
      const work = await this.#jsm.streams.info(stream).catch(() => undefined);
      try {
        info = await this.#jsm.streams.add({
          name: laneStream,
          subjects: [lanes],
          retention: RetentionPolicy.Workqueue,
          ...(work === undefined
            ? {}
            : { storage: work.config.storage, num_replicas: work.config.num_replicas }),
        });
      } catch (error) {
        info = await this.#jsm.streams.info(laneStream).catch(() => Promise.reject(error)); // created meanwhile?
      }
    }
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((s) => subjectCovers(s, lanes)))
      throw new InvalidOptionError('laneStream', `stream ${laneStream} does not capture ${lanes}`);
    const presence = [allPresenceSubjects(prefix), helloSubject(prefix)];
    if (subjects.some((s) => presence.some((p) => subjectsOverlap(s, p))))
      throw new InvalidOptionError('laneStream', `stream ${laneStream} captures ${presence.join(' or ')}`);
  }

  async #ensureDurable(stream: string, name: string, filter: string | undefined): Promise<ConsumerInfo> {
    try {
      return await this.#jsm.consumers.info(stream, name);
    } catch {
      return await this.#jsm.consumers.add(stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        ack_wait: this.#options.ackWaitMs * 1_000_000,
        ...(filter === undefined ? {} : { filter_subject: filter }),
      });
    }
  }

  async #loop(
    stream: string,
    durable: string,
    source: Lane | undefined,
    active: () => boolean,
  ): Promise<void> {
    const { batch, routing } = this.#options;
    const expires = Math.max(MIN_EXPIRES_MS, routing.livenessIntervalMs);
    while (!this.#closed && active()) {
      try {
        const consumer = await this.#js.consumers.get(stream, durable);
        while (!this.#closed && active()) {
          const messages = await consumer.fetch({ max_messages: batch, expires });
          // Messages handled synchronously (a handler that returns no promise) add no promise of
          // their own: the batch waits only for those still running.
          const work: Promise<void>[] = [];
          for await (const message of messages) {
            const running = this.#process(message, source);
            if (running !== undefined) work.push(running);
          }
          if (work.length > 0) await Promise.all(work);
        }
      } catch {
        if (!this.#closed) await new Promise((r) => setTimeout(r, routing.livenessIntervalMs).unref());
      }
    }
  }

  /** Handles, moves or returns one message; `undefined` when that is already done. */
  #process(message: JsMsg, source: Lane | undefined): Promise<void> | undefined {
    const lane = readMessageLane(
      tagOf(message.headers, this.#options.routing.header),
      'nats',
      this.#options.routing.header,
    );
    if (this.#self !== undefined)
      return lane !== undefined ? this.#handle(message, lane) : this.#returnUntagged(message);
    if (lane === undefined) return this.#handle(message, undefined);
    return this.#route(message, lane, source);
  }

  /** A base consumer's tagged message: to its lane's live consumer, along the fallback chain, or here. */
  async #route(message: JsMsg, lane: Lane, source: Lane | undefined): Promise<void> {
    const chain = this.#options.routing.chain(lane);
    for (const l of chain) {
      const state = this.#track(l);
      if (state.live === undefined && state.firstRead !== null) await state.firstRead;
    }
    for (const target of chain) {
      if (this.#lanes.get(target)?.live !== true) continue;
      if (target !== lane) countFellBack('nats', lane, target);
      await this.#forward(message, target);
      return;
    }
    if (this.#options.routing.strict(lane) && source !== lane) {
      await this.#forward(message, lane);
      return;
    }
    countFellBack('nats', lane, undefined);
    await this.#handle(message, lane);
  }

  /** Moves a message to its lane subject (deduplicated by message id), then acks it. */
  async #forward(message: JsMsg, target: Lane): Promise<void> {
    const { prefix } = this.#options;
    const state = this.#track(target);
    try {
      await this.#laneDurable(target, state);
      const headers = republishHeaders(message);
      if (!headers.has(ORIGIN_SUBJECT_HEADER)) headers.set(ORIGIN_SUBJECT_HEADER, message.subject);
      await this.#js.publish(laneSubject(prefix, target), message.data, {
        headers,
        msgID: `${message.info.stream}:${message.seq}`,
      });
      countRouted(target);
      message.ack();
    } catch {
      state.durable = null;
      message.nak();
    }
  }

  /** Untagged messages never reach a lane consumer: one published straight to a lane subject goes back to where it came from. */
  async #returnUntagged(message: JsMsg): Promise<void> {
    const origin = message.headers?.has(ORIGIN_SUBJECT_HEADER)
      ? message.headers.get(ORIGIN_SUBJECT_HEADER)
      : '';
    if (origin === '') {
      message.term('graylane: untagged message on a lane subject, with no origin to return it to');
      return;
    }
    try {
      await this.#js.publish(origin, message.data, {
        headers: republishHeaders(message),
        msgID: `${message.info.stream}:${message.seq}`,
      });
      message.ack();
    } catch {
      message.nak();
    }
  }

  /** Runs the handler in the message's lane, then acks (nak if it threw or rejected); a promise only while a returned promise runs. */
  #handle(message: JsMsg, lane: Lane | undefined): Promise<void> | undefined {
    let result: unknown;
    try {
      result = runInMessageLane(lane, () => this.#handler(message, lane));
    } catch {
      this.#settle(message, lane, true);
      return undefined;
    }
    if (!isThenable(result)) {
      this.#settle(message, lane, false);
      return undefined;
    }
    return Promise.resolve(result).then(
      () => this.#settle(message, lane, false),
      () => this.#settle(message, lane, true),
    );
  }

  #settle(message: JsMsg, lane: Lane | undefined, failed: boolean): void {
    countConsumed('nats', lane, this.#self, failed);
    if (failed) message.nak();
    else message.ack();
  }

  /** Creates the lane's durable on the lane stream once. */
  #laneDurable(lane: Lane, state: LaneState): Promise<unknown> {
    const { laneStream, durable, prefix } = this.#options;
    state.durable ??= this.#ensureDurable(
      laneStream,
      laneDurableName(durable, lane),
      laneSubject(prefix, lane),
    );
    return state.durable;
  }

  #track(lane: Lane): LaneState {
    let state = this.#lanes.get(lane);
    if (state === undefined) {
      state = { live: undefined, firstRead: null, durable: null, drain: null };
      this.#lanes.set(lane, state);
      state.firstRead = this.#read(lane, state);
    }
    return state;
  }

  /** Asks the lane's presence subject: a reply means a live lane consumer, "no responders" none. */
  async #read(lane: Lane, state: LaneState): Promise<void> {
    const { prefix, routing, stream, laneStream, durable } = this.#options;
    const live = await readNatsLaneLiveness(this.#nc, prefix, lane, routing.livenessIntervalMs);
    if (live === undefined) return; // slow or disconnected: keep the last view
    if (state.live !== live) {
      state.live = live;
      publishLiveness('nats', stream, lane, live);
    }
    if (this.#closed || live || routing.strict(lane) || state.drain !== null) return;
    const name = laneDurableName(durable, lane);
    state.drain = (async () => {
      await this.#laneDurable(lane, state);
      await withLane(null, () => this.#loop(laneStream, name, lane, () => state.live === false));
    })()
      .catch(() => undefined)
      .finally(() => {
        state.drain = null;
      });
  }

  async #poll(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#lanes].map(([lane, state]) => this.#read(lane, state)));
  }
}
