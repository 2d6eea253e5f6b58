import { countInvalidTag, type Lane, MAX_LANE_LENGTH, parseLane } from '@graylane/core';
import { type Broker, countInvalidMessageTag } from '../message-counters';

/**
 * The lane of a message's tag field, or `undefined` (no tag, or an invalid one). Invalid tags are
 * ignored and counted exactly as at HTTP ingress (core's `countInvalidTag`, carrier `header`),
 * plus per broker. Never throws.
 */
export function readMessageLane(raw: unknown, broker: Broker, key: string): Lane | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('latin1') : String(raw);
  const lane = parseLane(value);
  if (lane !== undefined) return lane;
  countInvalidTag('header', key, value.length > MAX_LANE_LENGTH ? 'oversize' : 'grammar', value);
  countInvalidMessageTag(broker);
  return undefined;
}
