// Issue 14, lossless stop with a real SIGTERM, static file registry: the same run as
// stop-cycles-etcd.test.ts (see there) with the instances listed in a watched JSON file. For a
// file registry the deployment is the registry: it writes an instance's lines once the instance
// has registered (listening), and on stop removes them and sends SIGTERM at the same moment (as
// Kubernetes removes a terminating Pod's endpoints and signals it at once). The instance's
// default drain (5 s) must cover the file watch. The discovery here is another process's view:
// staticRegistry({ file }) with its defaults.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import {
  laneClients,
  reportStopCycles,
  startInstance,
  startStable,
  stopCycles,
} from './helpers/http-grpc-fleet';

test('graceful stop (SIGTERM, default drain), static file: 0 failed requests on undici, axios and gRPC across 20 stop/start cycles at 200 req/s', {
  timeout: 300_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gl-stop-cycles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'instances.json');
  const stable = await startStable(t);
  const members = new Map<string, { httpPort: number; grpcPort: number }>([['stable', stable]]);
  const write = () => {
    const lines = [...members].flatMap(([id, ports]) => {
      const labels = id === 'stable' ? {} : { 'alicloud.service.tag': 'gray' };
      return [
        { service: 'svc-b', id, host: '127.0.0.1', port: ports.httpPort, labels },
        { service: 'svc-g', id, host: '127.0.0.1', port: ports.grpcPort, labels },
      ];
    });
    // Atomic replace, as a deployment tool should write it.
    writeFileSync(`${file}.tmp`, JSON.stringify(lines));
    renameSync(`${file}.tmp`, file);
  };
  write();
  const registry = staticRegistry({ file, env: false });
  const discovery = createDiscovery({ registry });
  t.after(async () => {
    await discovery.close();
    await registry.close();
  });
  await discovery.ready('svc-b');
  await discovery.ready('svc-g');
  const clients = laneClients(t, discovery, 'graylane-stop-file');
  const result = await stopCycles(
    t,
    discovery,
    clients,
    {
      async start(name) {
        const instance = await startInstance(t, { mode: 'file', name });
        members.set(name, instance);
        write();
        return instance;
      },
      stop(instance) {
        members.delete(instance.name);
        write();
        instance.child.kill('SIGTERM');
      },
    },
    { cycles: 20, slots: 3, upMs: 1_000, ratePerS: 200 },
  );
  reportStopCycles(t, result);
});
