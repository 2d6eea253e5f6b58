// Child process for etcd-crash.test.ts: an HTTP server that answers its name, registered in etcd
// once listening. Prints one JSON line, then serves until killed.
// argv: <endpoint> <name> <lane> <ttlSeconds>
import { createServer } from 'node:http';
import { register } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';

const [endpoint, name, lane, ttl] = process.argv.slice(2);
const server = createServer((_req, res) => setTimeout(() => res.end(name), 2));
const listening = new Promise((resolve) => server.once('listening', () => resolve(server.address().port)));
server.listen(0, '127.0.0.1');
const registry = etcdRegistry({ endpoints: endpoint, ttlSeconds: Number(ttl) });
const registration = await register(registry, {
  service: 'svc-b',
  id: name,
  host: '127.0.0.1',
  port: await listening,
  lane,
  server,
});
process.stdout.write(
  `${JSON.stringify({ id: registration.instance.id, port: registration.instance.port })}\n`,
);
