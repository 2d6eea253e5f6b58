// The gray consumer's process dies (SIGKILL, no close()): its presence member in `<stream>~live`
// is no longer refreshed and expires after livenessTtlMs; the base consumer sees that at its next
// liveness read and reads the gray lane stream, claiming (XAUTOCLAIM) the entries the dead
// consumer held once they are idle ≥ livenessTtlMs. At least once: an entry the dead process
// handled but had not acked is handled again (at most its batch).
import { DEFAULT_STREAM_BATCH } from '@graylane/messaging/redis-streams';
import { crashContract } from './crash-contract';
import { contractBroker, GROUP, LIVENESS_MS } from './redis-streams-fixture';

const TTL_MS = 2500; // above the event-loop stalls of a loaded machine (seen: 2 s), so a live child stays live

crashContract({
  broker: 'redis-streams',
  livenessMs: LIVENESS_MS,
  options: { livenessTtlMs: TTL_MS },
  childOptions: (stream) => ({ stream, group: GROUP }),
  group: (t) => contractBroker.group(t),
  takeover: { ms: TTL_MS + LIVENESS_MS, formula: 'livenessTtlMs + livenessIntervalMs' },
  // The entries it held are claimed at the first claim pass once idle ≥ TTL; passes run when base
  // starts reading the lane stream, then every min(claimIdleMs, livenessTtlMs).
  held: { ms: 2 * TTL_MS + LIVENESS_MS, formula: '2 × livenessTtlMs + livenessIntervalMs' },
  inFlight: DEFAULT_STREAM_BATCH,
  heartbeat: true,
});
