// Issue 14, lossless stop with a real SIGTERM, etcd: child-process instances serving HTTP (svc-b)
// and gRPC (svc-g) register in etcd with register() and stop the way the READMEs say
// (closeOnSignals: true with the server; gRPC: drainAndClose, then tryShutdown), with the DEFAULT
// drain (5 s). Under a steady 200 req/s in all, taken in turn by the undici laneDispatcher, the
// axios integration and the gRPC lane channel (~67 req/s each, every request in lane gray; 200
// each saturated the test process on a loaded 2-core machine), 20 instances are SIGTERMed and
// replaced in 3 staggered slots, rolling with a surge of one (the replacement is listed before
// the old one is stopped; the run reports how many gray instances the lane listed, never fewer
// than 1). Zero failed requests on every client, none served by base.
import { test } from 'node:test';
import {
  laneClients,
  reportStopCycles,
  startEtcdFleet,
  startInstance,
  stopCycles,
} from './helpers/http-grpc-fleet';

test('graceful stop (SIGTERM, default drain), etcd: 0 failed requests on undici, axios and gRPC across 20 stop/start cycles at 200 req/s', {
  timeout: 300_000,
}, async (t) => {
  const { endpoint, discovery } = await startEtcdFleet(t);
  const clients = laneClients(t, discovery, 'graylane-stop-etcd');
  const result = await stopCycles(
    t,
    discovery,
    clients,
    {
      start: (name) => startInstance(t, { mode: 'etcd', endpoint: endpoint, name }),
      stop: (instance) => instance.child.kill('SIGTERM'),
    },
    { cycles: 20, slots: 3, upMs: 1_000, ratePerS: 200 },
  );
  reportStopCycles(t, result);
});
