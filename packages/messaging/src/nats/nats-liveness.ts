import { type Lane, parseLane } from '@graylane/core';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { laneSubject, presenceSubject } from './nats-names';

// A presence request waits this long at most: a slow reply must not hold up a liveness round.
const MAX_PRESENCE_WAIT_MS = 1000;

/**
 * Asks a lane's presence subject, as base consumers and publishers do: `true` when a lane consumer
 * replies, `false` on "no responders" (the server's answer once the last lane consumer's
 * subscription is gone), `undefined` when it cannot tell (slow, disconnected: keep the last view).
 */
export async function readNatsLaneLiveness(
  nc: NatsConnection,
  prefix: string,
  lane: Lane,
  livenessIntervalMs: number,
): Promise<boolean | undefined> {
  try {
    await nc.request(presenceSubject(prefix, lane), undefined, {
      timeout: Math.min(MAX_PRESENCE_WAIT_MS, livenessIntervalMs * 2),
    });
    return true;
  } catch (error) {
    return /no responders/i.test(String((error as Error | undefined)?.message)) ? false : undefined;
  }
}

/** The core-NATS subject a lane consumer announces its lane on when it starts: `<prefix>.hello`. */
export function helloSubject(prefix: string): string {
  return `${prefix}.hello`;
}

/**
 * The lanes that have a consumer on the lane stream (each lane durable filters its lane's
 * subject), as a publisher finds them at start; none when the lane stream does not exist yet.
 */
export async function lanesOnStream(
  jsm: JetStreamManager,
  laneStream: string,
  prefix: string,
): Promise<Lane[]> {
  const head = laneSubject(prefix, '');
  const lanes: Lane[] = [];
  try {
    for await (const info of jsm.consumers.list(laneStream)) {
      const filter = info.config.filter_subject;
      const lane = filter?.startsWith(head) ? parseLane(filter.slice(head.length)) : undefined;
      if (lane !== undefined) lanes.push(lane);
    }
  } catch {
    // no lane stream yet: no lane consumer has started
  }
  return lanes;
}
