import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * Listens on an ephemeral loopback port and returns it; the server is closed in `t.after`.
 * Never a fixed port.
 */
export async function listen(server: Server | HttpsServer, t?: TestContext): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  if (t) {
    t.after(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections?.();
          server.close(() => resolve());
        }),
    );
  }
  return (server.address() as AddressInfo).port;
}

/**
 * A loopback port that was free a moment ago, for a process of its own that reads its port from
 * the environment (`PORT`) as users' services do. In-process servers use `listen` instead.
 */
export async function freePort(): Promise<number> {
  const server = createNetServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}
