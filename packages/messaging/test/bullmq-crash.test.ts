// The gray worker's process dies (SIGKILL, no close()): Redis drops its connections, so the base
// consumer's next liveness read (CLIENT LIST) finds no gray worker and it starts a worker on the
// gray lane queue; the jobs the dead worker had active come back through BullMQ's stalled-job
// check once their lock expired. At least once: a job the dead process handled but had not
// completed is handled again (at most its concurrency).

import { contractBroker, LIVENESS_MS } from './bullmq-fixture';
import { crashContract } from './crash-contract';
import { REDIS } from './redis-client';

const CONCURRENCY = 50; // as the fixture's consumers
const LOCK_MS = 6000; // renewed every 3 s: above the event-loop stalls of a loaded machine (seen: 2 s)
const STALLED_MS = 1000;

crashContract({
  broker: 'bullmq',
  livenessMs: LIVENESS_MS,
  options: { lockDurationMs: LOCK_MS, stalledIntervalMs: STALLED_MS },
  childOptions: (queue) => ({ queue, connection: REDIS, concurrency: CONCURRENCY }),
  group: (t) => contractBroker.group(t),
  takeover: { ms: LIVENESS_MS, formula: 'livenessIntervalMs' },
  held: { ms: LOCK_MS + STALLED_MS, formula: 'lockDurationMs + stalledIntervalMs' },
  inFlight: CONCURRENCY,
});
