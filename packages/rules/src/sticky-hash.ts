// Sticky weights hash a key (a user id, a cookie) to a point in [0, 100): the rule takes the key
// when the point falls below its weight. The hash is FNV-1a (32 bit) over the UTF-16 code units of
// `salt + '\0' + key`, finished with the murmur3 fmix32 avalanche so that keys differing in one
// character land far apart. It is part of the contract: changing it would move users between lanes.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_POW_32 = 4294967296;

/** The FNV-1a state after `salt` and a separator, computed once per rule. */
export function stickySeed(salt: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < salt.length; i++) {
    h ^= salt.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return Math.imul(h, FNV_PRIME); // the '\0' separator: xor with 0 is a no-op
}

/**
 * Where `key` falls in [0, 100) for a rule seeded with {@link stickySeed}. Deterministic across
 * processes, platforms and versions.
 */
export function stickyPoint(seed: number, key: string): number {
  let h = seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) / TWO_POW_32) * 100;
}
