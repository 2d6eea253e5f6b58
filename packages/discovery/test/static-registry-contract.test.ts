import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceInstanceInit } from '@graylane/discovery';
import { staticRegistry } from '@graylane/discovery';
import { registryContract } from './registry-contract';

// Changes made through register() (in-memory)...
registryContract('static (register)', async () => {
  const registry = staticRegistry({ env: false });
  return {
    registry,
    supportsRegister: true,
    async add(instance) {
      try {
        const registration = await registry.register(instance);
        return () => registration.close();
      } catch {
        return async () => {};
      }
    },
  };
});

// ...and through the watched file, rewritten atomically (write a temp file, rename it over).
registryContract('static (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-static-'));
  const file = join(dir, 'instances.json');
  const current: ServiceInstanceInit[] = [];
  let n = 0;
  const write = () => {
    const temp = join(dir, `.tmp-${n++}`);
    writeFileSync(temp, JSON.stringify(current));
    renameSync(temp, file);
  };
  write();
  const registry = staticRegistry({ file, env: false, pollIntervalMs: 100, debounceMs: 20 });
  return {
    registry,
    supportsRegister: true,
    async add(instance) {
      current.push(instance);
      write();
      return async () => {
        current.splice(current.indexOf(instance), 1);
        write();
      };
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
