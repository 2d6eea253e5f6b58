// Child process for etcd-process.test.ts: registers one instance in etcd, prints one JSON line,
// and stays alive until SIGTERM (deregisters, then the process must end by itself) or SIGKILL.
// argv: <endpoint> <service> <port> <lane> <ttlSeconds>
import { etcdRegistry } from '@graylane/discovery/etcd';

const [endpoint, service, port, lane, ttl] = process.argv.slice(2);
const registry = etcdRegistry({ endpoints: endpoint, ttlSeconds: Number(ttl) });
const registration = await registry.register({
  service,
  host: '127.0.0.1',
  port: Number(port),
  labels: lane ? { 'alicloud.service.tag': lane } : {},
});
// Stands in for the server socket a real service keeps open.
const alive = setInterval(() => undefined, 60_000);
// The handler goes in before the line is printed: the parent may signal as soon as it reads it.
process.once('SIGTERM', async () => {
  clearInterval(alive);
  await registration.close();
  await registry.close();
  // No process.exit(): the process must end by itself once the registry let go of everything.
});
process.stdout.write(`${JSON.stringify({ registeredAt: Date.now(), id: registration.instance.id })}\n`);
