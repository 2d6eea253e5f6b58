// The gray consumer's process dies (SIGKILL, no close()): the server drops its presence
// subscription with its connection, so the base consumer's next liveness request gets "no
// responders" and it pulls from the gray lane durable; the messages the dead process had pulled
// but not acked come back after ackWaitMs. At least once: a message the dead process handled but
// had not acked is handled again (at most its batch).
import { DEFAULT_NATS_BATCH } from '@graylane/messaging/nats';
import { crashContract } from './crash-contract';
import { contractBroker, DURABLE, LIVENESS_MS } from './nats-fixture';

const ACK_WAIT_MS = 6000; // above a batch's handling time on a loaded machine: no redelivery in steady state

crashContract({
  broker: 'nats',
  livenessMs: LIVENESS_MS,
  options: { ackWaitMs: ACK_WAIT_MS },
  childOptions: (stream) => ({ stream, durable: DURABLE }),
  group: (t) => contractBroker.group(t),
  takeover: { ms: LIVENESS_MS, formula: 'livenessIntervalMs' },
  // Redelivered after ack_wait to base's pull on the lane durable (open ≤ max(1 s, interval)).
  held: { ms: ACK_WAIT_MS + 1000, formula: 'ackWaitMs + max(1 s, livenessIntervalMs)' },
  inFlight: DEFAULT_NATS_BATCH,
});
