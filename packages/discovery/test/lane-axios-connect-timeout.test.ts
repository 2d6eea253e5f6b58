// laneAxiosDiscovery's connect timeout, against an instance that never accepts: a child process
// listens with a backlog of 1 and blocks its event loop, so after two connections fill its accept
// queue the kernel drops further SYNs and connects hang (reliable on Linux loopback, unlike an
// "unroutable" address, which a sandbox may refuse at once). The connect timeout fires
// (GL_ERR_CONNECT_TIMEOUT) and, since nothing reached the instance, the request is retried on
// another instance of the same routing decision.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import {
  ConnectTimeoutError,
  createDiscovery,
  type LaneAxiosDiscoveryOptions,
  laneAxiosDiscovery,
  type OutlierMessage,
  type RetryMessage,
  staticRegistry,
} from '@graylane/discovery';
import axios from 'axios';
import { channelMessages, loopbackDiscovery } from './helpers';

const NEVER_ACCEPTS = `
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // blocks: never accepts
});
`;

/** A loopback port where TCP connects hang (see the file comment). */
async function neverAccepts(t: TestContext): Promise<number> {
  const child = spawn(process.execPath, ['-e', NEVER_ACCEPTS], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill('SIGKILL');
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(String(chunk).trim());
  // Fill the accept queue: backlog 1 holds two established connections.
  const fillers: Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
  });
  let connected = 0;
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.once('connect', () => connected++);
    fillers.push(s);
  }
  const started = Date.now();
  while (connected < 2 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
  assert.equal(connected, 2, 'the accept queue holds two connections');
  // Proof that a further connect hangs (else the test would prove nothing).
  const probe = connect(port, '127.0.0.1');
  probe.on('error', () => {});
  fillers.push(probe);
  const probed = await Promise.race([
    once(probe, 'connect').then(() => 'connected'),
    new Promise((r) => setTimeout(() => r('hangs'), 500)),
  ]);
  assert.equal(probed, 'hangs', 'a connect to the full queue hangs');
  return port;
}

async function named(t: TestContext, name: string): Promise<number> {
  const server = createServer((_req, res) => res.end(name));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

test('connectTimeoutMs is validated at setup', () => {
  const discovery = createDiscovery({ registry: staticRegistry({ env: false }) });
  for (const connectTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '3s']) {
    assert.throws(
      () =>
        laneAxiosDiscovery(axios.create(), {
          discovery,
          connectTimeoutMs,
        } as unknown as LaneAxiosDiscoveryOptions),
      (error: { code?: string; path?: string }) =>
        error.code === 'GL_ERR_INVALID_OPTION' && error.path === 'connectTimeoutMs',
    );
  }
  discovery.close();
});

test('axios: a connect that hangs ends at connectTimeoutMs and is retried on another gray instance', async (t) => {
  const retries = channelMessages<RetryMessage>(t, 'graylane:discovery:retry');
  const outliers = channelMessages<OutlierMessage>(t, 'graylane:discovery:outlier');
  const ok = await named(t, 'gray-ok');
  const hole = await neverAccepts(t);
  const discovery = await loopbackDiscovery(t, [
    { id: 'gray-ok', port: ok, gray: true },
    { id: 'gray-hole', port: hole, gray: true },
  ]);
  const http = axios.create({ responseType: 'text' });
  laneAxiosDiscovery(http, { discovery, connectTimeoutMs: 300, timeoutMs: 60_000 });
  const bodies: string[] = [];
  for (let i = 0; i < 8; i++) {
    bodies.push(String((await withLane('gray', () => http.get('http://svc-b/'))).data));
  }
  assert.deepEqual(new Set(bodies), new Set(['gray-ok']), 'every request succeeded on gray-ok');
  const timeouts = retries.filter((m) => m.code === 'GL_ERR_CONNECT_TIMEOUT');
  assert.ok(timeouts.length >= 1, `retried after a connect timeout (${JSON.stringify(retries)})`);
  for (const m of timeouts) {
    assert.deepEqual(
      { from: m.from, to: m.to, lane: m.lane, client: m.client },
      { from: 'gray-hole', to: 'gray-ok', lane: 'gray', client: 'axios' },
    );
  }
  assert.ok(
    outliers.some(
      (m) => m.event === 'ejected' && m.instance.id === 'gray-hole' && m.reason === 'connect-failure',
    ),
    'connect timeouts count toward ejection',
  );
});

test('axios: with no other instance the request rejects with GL_ERR_CONNECT_TIMEOUT, its cause a ConnectTimeoutError', async (t) => {
  const hole = await neverAccepts(t);
  const discovery = await loopbackDiscovery(t, [{ id: 'base-hole', port: hole }]);
  const http = axios.create();
  laneAxiosDiscovery(http, { discovery, connectTimeoutMs: 300, timeoutMs: 60_000 });
  const error = await http.get('http://svc-b/').then(
    () => assert.fail('expected a connect timeout'),
    (e: unknown) => e as { code?: string; cause?: unknown },
  );
  assert.equal(error.code, 'GL_ERR_CONNECT_TIMEOUT');
  assert.ok(error.cause instanceof ConnectTimeoutError);
  assert.equal(error.cause.timeoutMs, 300);
  assert.equal(error.cause.port, hole);
});

test("axios: a caller's own httpAgent is kept (the connect timeout is not applied; axios' timeout ends the request)", async (t) => {
  const hole = await neverAccepts(t);
  const discovery = await loopbackDiscovery(t, [{ id: 'base-hole', port: hole }]);
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const http = axios.create({ httpAgent: agent });
  laneAxiosDiscovery(http, { discovery, connectTimeoutMs: 200, timeoutMs: 1_000 });
  const error = await http.get('http://svc-b/').then(
    () => assert.fail('expected a timeout'),
    (e: unknown) => e as { code?: string },
  );
  assert.equal(error.code, 'ECONNABORTED', "axios' own timeout");
});
