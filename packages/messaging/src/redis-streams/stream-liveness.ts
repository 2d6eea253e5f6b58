import type { Lane } from '@graylane/core';
import { lanesKey, presenceKey } from './stream-names';

// Lua run by Redis: every liveness decision uses the Redis server's clock, so consumers on hosts
// with skewed clocks still agree. Scripts touch only the keys they are given (cluster-safe when
// the stream name carries a hash tag).

/** KEYS: presence, lanes; ARGV: member, ttlMs, lane. Refreshes a lane consumer's presence. */
export const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
return now`;

/** KEYS: presence, lanes. Drops expired members; returns [live members, known lanes]. */
export const READ_LIVENESS_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return { redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf'), redis.call('SMEMBERS', KEYS[2]) }`;

/**
 * KEYS: source stream, target stream; ARGV: group, id, fields... Moves one pending entry: acked on
 * the source and added to the target in one atomic step — only if it was still pending, so an
 * entry is never moved twice.
 */
export const MOVE_SCRIPT = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 1 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) end
return acked`;

/** The lane of a presence member `<lane> <consumer>`. */
export function laneOfMember(member: string): string {
  const space = member.indexOf(' ');
  return space === -1 ? member : member.slice(0, space);
}

/** The Redis call the liveness reads need (ioredis `Redis` fits). */
export interface LivenessClient {
  call(command: string, args: Array<string | Buffer | number>): Promise<unknown>;
}

/**
 * Reads, in one step on the Redis server's clock, the lanes of `stream` that have a live consumer
 * and every lane that ever had one; base consumers and lane publishers read it the same way.
 */
export async function readStreamLiveness(
  redis: LivenessClient,
  stream: string,
): Promise<{ live: Set<Lane>; lanes: string[] }> {
  const [members, lanes] = (await redis.call('EVAL', [
    READ_LIVENESS_SCRIPT,
    2,
    presenceKey(stream),
    lanesKey(stream),
  ])) as [string[], string[]];
  return { live: new Set<Lane>(members.map(laneOfMember)), lanes };
}
