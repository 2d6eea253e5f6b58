// Shared by the discovery tests (not a test file).
import diagnosticsChannel from 'node:diagnostics_channel';
import type { TestContext } from 'node:test';
import {
  createDiscovery,
  type Discovery,
  type DiscoveryOptions,
  type Instance,
  type Registry,
  type RegistryListener,
  type RegistryUpdate,
  type ServiceInstanceInit,
  type StaticRegistry,
  staticRegistry,
} from '@graylane/discovery';

export const GRAY = Object.freeze({ 'alicloud.service.tag': 'gray' });

export function lane(name: string): Record<string, string> {
  return { 'alicloud.service.tag': name };
}

/** A static registry + discovery over `instances`, ready for `services`; closed after the test. */
export async function setup(
  t: TestContext,
  instances: readonly ServiceInstanceInit[],
  options: Omit<DiscoveryOptions, 'registry'> = {},
  services: readonly string[] = ['svc'],
): Promise<{ registry: StaticRegistry; discovery: Discovery }> {
  const registry = staticRegistry({ instances, env: false });
  const discovery = createDiscovery({ registry, ...options });
  t.after(async () => {
    await discovery.close();
    await registry.close();
  });
  for (const service of services) await discovery.ready(service);
  return { registry, discovery };
}

/** Resolves once discovery holds an instance set for `service` that satisfies `match`. */
export function nextSet(
  discovery: Discovery,
  service: string,
  match: (instances: readonly Instance[]) => boolean,
): Promise<readonly Instance[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unwatch();
      reject(new Error(`no matching instance set for ${service} within 5 s`));
    }, 5000);
    const unwatch = discovery.watch(service, (instances) => {
      if (!match(instances)) return;
      clearTimeout(timer);
      unwatch();
      resolve(instances);
    });
  });
}

/** Counts picks per instance id. */
export function tally(n: number, pick: () => Instance): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = pick().id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A registry driven by hand: `emit(service, update)` delivers to that service's subscribers. */
export function manualRegistry(): {
  registry: Registry;
  emit(service: string, update: RegistryUpdate): void;
} {
  const listeners = new Map<string, Set<RegistryListener>>();
  const registry: Registry = {
    name: 'manual',
    subscribe(service, listener) {
      let set = listeners.get(service);
      if (set === undefined) {
        set = new Set();
        listeners.set(service, set);
      }
      set.add(listener);
      return () => set.delete(listener);
    },
    register() {
      return Promise.reject(new Error('manual registry'));
    },
    close() {
      listeners.clear();
      return Promise.resolve();
    },
  };
  return {
    registry,
    emit(service, update) {
      for (const listener of listeners.get(service) ?? []) listener(update);
    },
  };
}

/** Resolves once `condition()` holds (polled every 10 ms); rejects naming `what` after `timeoutMs`. */
export function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

/** The messages published on diagnostics channel `name` while the test runs. */
export function channelMessages<T>(t: TestContext, name: string): T[] {
  const messages: T[] = [];
  const on = (m: unknown) => messages.push(m as T);
  diagnosticsChannel.subscribe(name, on);
  t.after(() => diagnosticsChannel.unsubscribe(name, on));
  return messages;
}

/**
 * A discovery over a static registry of `svc-b` instances on loopback (`gray`: labelled gray),
 * ready; both close after the test.
 */
export async function loopbackDiscovery(
  t: TestContext,
  instances: ReadonlyArray<{ id: string; port: number; gray?: boolean }>,
  options: Omit<DiscoveryOptions, 'registry'> = {},
): Promise<Discovery> {
  const registry = staticRegistry({
    env: false,
    instances: instances.map((i) => ({
      service: 'svc-b',
      id: i.id,
      host: '127.0.0.1',
      port: i.port,
      ...(i.gray ? { labels: GRAY } : {}),
    })),
  });
  const discovery = createDiscovery({ registry, ...options });
  t.after(async () => {
    await discovery.close();
    await registry.close();
  });
  await discovery.ready('svc-b');
  return discovery;
}
