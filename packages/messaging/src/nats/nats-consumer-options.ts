import { assertKnownOptions, InvalidOptionError, type Lane } from '@graylane/core';
import type { JsMsg } from '@nats-io/jetstream';
import {
  type CompiledLaneConsumerOptions,
  checkOptionsObject,
  compileLaneConsumerOptions,
  integerOption,
} from '../internal/consumer-setup';
import type { LaneConsumerOptions } from '../lane-consumer';
import { allLaneSubjects } from './nats-names';
import { subjectsOverlap } from './nats-subjects';

/** Default {@link NatsLaneConsumerOptions.batch}. */
export const DEFAULT_NATS_BATCH = 50;
/** Default {@link NatsLaneConsumerOptions.ackWaitMs}. */
export const DEFAULT_NATS_ACK_WAIT_MS = 30_000;

/** Options of `consumeLanes` (NATS JetStream). */
export interface NatsLaneConsumerOptions extends LaneConsumerOptions {
  /** The work stream producers publish to (yours, as without graylane). */
  readonly stream: string;
  /** The durable pull consumer base consumers share on `stream` (created when missing). */
  readonly durable: string;
  /**
   * Subject filter of that durable when this call creates it. Default: none (the whole stream).
   * Required when `laneStream` is `stream`, and must not match `<prefix>.lane.>`.
   */
  readonly filterSubject?: string | undefined;
  /**
   * The stream that holds lane messages. Default `<stream>-lanes`: created when missing (work-queue
   * retention, the work stream's storage and replicas). `stream` itself (one stream, as a layout
   * routed by hand): its subjects must then include `<prefix>.lane.>` (added by you: graylane never
   * changes your stream) and `filterSubject` keep the base durable off them.
   */
  readonly laneStream?: string | undefined;
  /** Subject prefix of lane messages and presence requests. Default `graylane.<stream>`. */
  readonly subjectPrefix?: string | undefined;
  /** Messages per pull (handled concurrently). Default {@link DEFAULT_NATS_BATCH}. */
  readonly batch?: number | undefined;
  /** `ack_wait` of the consumers this call creates: a crashed consumer's messages come back after it. Default {@link DEFAULT_NATS_ACK_WAIT_MS}. */
  readonly ackWaitMs?: number | undefined;
  /** Lanes a base consumer watches from its start, besides the lane durables it finds. Default `[]`. */
  readonly lanes?: readonly string[] | undefined;
}

const NATS_OPTION_KEYS: readonly string[] = Object.keys({
  lane: 1,
  strict: 1,
  fallback: 1,
  livenessIntervalMs: 1,
  header: 1,
  stream: 1,
  durable: 1,
  filterSubject: 1,
  laneStream: 1,
  subjectPrefix: 1,
  batch: 1,
  ackWaitMs: 1,
  lanes: 1,
} satisfies Record<keyof NatsLaneConsumerOptions, 1>);

/**
 * Handles one message in its lane (`lane` undefined: untagged or an invalid tag). Resolve to
 * `ack`; throw or reject to `nak` (redelivered, as with the plain client).
 */
export type NatsLaneHandler = (message: JsMsg, lane: Lane | undefined) => unknown;

/** Validated options. */
export interface CompiledNatsOptions extends CompiledLaneConsumerOptions {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string | undefined;
  readonly laneStream: string;
  readonly prefix: string;
  readonly batch: number;
  readonly ackWaitMs: number;
}

const NAME = /^[A-Za-z0-9_-]{1,200}$/;
const SUBJECT = /^[^\s*>]+(\.[^\s*>.]+)*$/;

/**
 * Validates `stream` and `subjectPrefix` (what names a group's lane and presence subjects, for
 * consumers and publishers alike) and returns the prefix. Throws `GL_ERR_INVALID_OPTION`.
 */
export function natsSubjectPrefix(options: {
  readonly stream?: unknown;
  readonly subjectPrefix?: unknown;
}): string {
  const { stream } = options;
  if (typeof stream !== 'string' || !NAME.test(stream))
    throw new InvalidOptionError('stream', 'expected a stream name');
  const prefix = options.subjectPrefix ?? `graylane.${stream}`;
  if (typeof prefix !== 'string' || !SUBJECT.test(prefix))
    throw new InvalidOptionError('subjectPrefix', 'expected a subject without wildcards');
  return prefix;
}

/** Validates `laneStream` (after {@link natsSubjectPrefix} checked `stream`) and returns it. */
export function natsLaneStream(options: { readonly stream: string; readonly laneStream?: unknown }): string {
  const laneStream = options.laneStream ?? `${options.stream}-lanes`;
  if (typeof laneStream !== 'string' || !NAME.test(laneStream))
    throw new InvalidOptionError('laneStream', 'expected a stream name');
  return laneStream;
}

/** Validates the options at setup. */
export function compileNatsOptions(options: NatsLaneConsumerOptions): CompiledNatsOptions {
  checkOptionsObject(options, '{ stream, durable, lane?, ... }');
  assertKnownOptions('consumeLanes() (@graylane/messaging/nats)', options, NATS_OPTION_KEYS);
  const { stream, durable } = options;
  const prefix = natsSubjectPrefix(options);
  if (typeof durable !== 'string' || !NAME.test(durable))
    throw new InvalidOptionError('durable', 'expected a durable name');
  const laneStream = natsLaneStream(options);
  const filterSubject = options.filterSubject;
  if (filterSubject !== undefined && (typeof filterSubject !== 'string' || filterSubject.length === 0)) {
    throw new InvalidOptionError('filterSubject', 'expected a subject');
  }
  // One stream for work and lanes: a base durable that also read the lane subjects would take
  // lane messages meant for lane consumers (and move them again).
  if (
    laneStream === stream &&
    (filterSubject === undefined || subjectsOverlap(filterSubject, allLaneSubjects(prefix)))
  ) {
    throw new InvalidOptionError(
      'filterSubject',
      `expected a subject filter for the base durable that does not match ${allLaneSubjects(prefix)} (laneStream is the work stream)`,
    );
  }
  const batch = integerOption(options.batch ?? DEFAULT_NATS_BATCH, 'batch', 1, 10_000);
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_NATS_ACK_WAIT_MS;
  if (!Number.isInteger(ackWaitMs) || ackWaitMs < 1000)
    throw new InvalidOptionError('ackWaitMs', 'expected an integer ≥ 1000');
  return Object.freeze({
    stream,
    durable,
    filterSubject,
    laneStream,
    prefix,
    batch,
    ackWaitMs,
    ...compileLaneConsumerOptions(options),
  });
}
