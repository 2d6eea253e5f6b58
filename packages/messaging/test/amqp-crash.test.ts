// The gray consumer's process dies (SIGKILL, no close()): RabbitMQ drops its consumers with its
// connection and requeues what it held at once; the base consumer sees the presence queue empty at
// its next liveness read and takes the gray lane over. At least once: a message the dead process
// handled but had not acked is handled again (at most its prefetch).
import { DEFAULT_AMQP_PREFETCH } from '@graylane/messaging/amqp';
import { contractBroker, LIVENESS_MS } from './amqp-fixture';
import { crashContract } from './crash-contract';

crashContract({
  broker: 'amqp',
  livenessMs: LIVENESS_MS,
  options: {},
  childOptions: (queue) => ({ queue }),
  group: (t) => contractBroker.group(t),
  takeover: { ms: LIVENESS_MS, formula: 'livenessIntervalMs' },
  held: { ms: LIVENESS_MS, formula: 'livenessIntervalMs (requeued at once)' },
  inFlight: DEFAULT_AMQP_PREFETCH,
});
