// Issue 14, lossless stop: during the drain every response says `Connection: close`, so a caller
// leaves its kept-alive connections while the instance still accepts new ones. A kept-alive
// connection still open when the server closes is a request that may be sent just as it is cut
// ("other side closed"), which no client may retry: it may have reached the instance.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { drainAndClose } from '@graylane/discovery';
import { Client } from 'undici';

test('drainAndClose: responses during the drain close their connection; before it they keep it', async (t) => {
  const server = createServer((_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let connections = 0;
  server.on('connection', () => connections++);
  const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.after(() => client.close());

  const get = async () => {
    const res = await client.request({ path: '/', method: 'GET' });
    await res.body.text();
    return res.headers.connection;
  };
  assert.equal(await get(), 'keep-alive');
  assert.equal(await get(), 'keep-alive');
  assert.equal(connections, 1, 'before the drain one kept-alive connection serves both');

  let deregistered = false;
  const stopped = drainAndClose(
    {
      close: async () => {
        deregistered = true;
      },
    },
    { server, drainMs: 500 },
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(deregistered);
  assert.equal(await get(), 'close', 'a response during the drain says Connection: close');
  assert.equal(await get(), 'close');
  // The first request of the drain came on the kept-alive connection, which then closed; the
  // second needed a new one.
  assert.equal(connections, 2);
  await stopped;
  assert.equal(server.listening, false);
  // The server's own listeners are as they were: the drain took its 'request' listener away.
  assert.equal(server.listenerCount('request'), 1);
});

test('drainAndClose: a handler that writes its head itself still answers during the drain; a server with only close() drains', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const stopped = drainAndClose({ close: async () => {} }, { server, drainMs: 300 });
  const res = await client.request({ path: '/', method: 'GET' });
  assert.equal(await res.body.text(), 'ok');
  await client.close();
  await stopped;
  // A net.Server-like object with only close(): drained and closed without 'request' events.
  let closed = false;
  await drainAndClose(
    { close: async () => {} },
    {
      server: {
        listening: true,
        once: () => undefined,
        close: (cb) => {
          closed = true;
          cb?.();
        },
      },
      drainMs: 0,
    },
  );
  assert.ok(closed);
});
