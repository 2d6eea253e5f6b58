// Child process of self-register.test.ts: registers, arms closeOnSignals, reports its
// deregistration on stdout, then lets SIGTERM end it as it normally would.
import { register, staticRegistry } from '@graylane/discovery';

async function main(): Promise<void> {
  const registry = staticRegistry({ env: false });
  registry.subscribe('svc', (update) => {
    if (update.ok) process.stdout.write(`${JSON.stringify(update.instances.map((i) => i.id))}\n`);
  });
  await register(registry, {
    service: 'svc',
    id: 'me',
    host: '127.0.0.1',
    port: 8080,
    closeOnSignals: true,
    drainMs: 200,
  });
  setInterval(() => {}, 1000); // stay alive until the signal
  process.stdout.write('ready\n');
}

void main();
