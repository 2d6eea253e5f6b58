// Child process of close-on-signals.test.ts: one process, two registrations armed with
// closeOnSignals (as a process serving HTTP and gRPC has): the HTTP one closes a server whose
// requests take 1 s, the other has no server. Prints { port } once both are registered and
// 'request' when a request arrives.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { register, staticRegistry } from '@graylane/discovery';

async function main(): Promise<void> {
  const registry = staticRegistry({ env: false });
  const server = createServer((_req, res) => {
    process.stdout.write('request\n');
    setTimeout(() => res.end('done'), 1_000);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const common = { host: '127.0.0.1', closeOnSignals: true, drainMs: 100 } as const;
  await register(registry, { ...common, service: 'http', port, server });
  await register(registry, { ...common, service: 'grpc', port: port + 1 });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

void main();
