// What every process of the demo shares: who it is (from the environment the launcher sets), the
// registry it uses, how it gets into that registry, and the messages it sends the launcher over
// the IPC channel. The services themselves (edge.ts, svc-a.ts, svc-b.ts, svc-c.ts) hold no demo
// plumbing beyond these calls.
import {
  type Discovery,
  laneLabelFor,
  type Registration,
  type Registry,
  register,
  staticRegistry,
} from '@graylane/discovery';

/** Which registry the chain runs on. */
export type RegistryKind = 'static' | 'etcd';

/** A walk step: which instance served the hop and the lane it ran in. */
export interface Hop {
  readonly service: string;
  readonly instance: string;
  /** The lane the handler ran in (`currentLane()`); `null` = base. */
  readonly lane: string | null;
  /** The `x-mse-tag` the hop received; `null` when none. */
  readonly tag: string | null;
}

/** Messages a demo process sends the launcher. */
export type ProcessMessage =
  | {
      readonly type: 'listening';
      readonly id: string;
      readonly service: string | null;
      readonly host: string;
      /** The port callers use (HTTP, or gRPC for svc-b). */
      readonly port: number;
      /** The labels this instance is (to be) registered with. */
      readonly labels: Readonly<Record<string, string>>;
      /** The diagnostics page of this process. */
      readonly diagnostics: string;
    }
  | { readonly type: 'routes'; readonly id: string; readonly service: string; readonly instances: string[] }
  | { readonly type: 'fatal'; readonly id: string; readonly message: string };

/** The loopback address every demo process listens on. */
export const HOST = '127.0.0.1';

/** This process, as the launcher described it. */
export const self = {
  id: process.env.GRAYLANE_DEMO_ID ?? 'unnamed',
  registry: (process.env.GRAYLANE_DEMO_REGISTRY === 'etcd' ? 'etcd' : 'static') as RegistryKind,
  /** `GRAYLANE_LANE` is also what `register()` reads on its own. */
  lane: process.env.GRAYLANE_LANE || null,
};

export function send(message: ProcessMessage): void {
  process.send?.(message);
}

/** The registry the launcher chose: the shared instances file, or etcd. */
export async function openRegistry(): Promise<Registry> {
  if (self.registry === 'etcd') {
    // A subpath import: only the etcd mode loads the etcd3 client.
    const { etcdRegistry } = await import('@graylane/discovery/etcd');
    return etcdRegistry({
      endpoints: (process.env.ETCD_ENDPOINTS ?? '').split(','),
      prefix: process.env.GRAYLANE_DEMO_ETCD_PREFIX,
      ttlSeconds: 5,
    });
  }
  // The static registry reloads the file when the launcher rewrites it.
  return staticRegistry({ file: process.env.GRAYLANE_DEMO_INSTANCES_FILE, env: false, debounceMs: 20 });
}

/**
 * Puts this instance into the registry. On etcd it registers itself on a lease with keep-alive
 * (lane from `GRAYLANE_LANE`); SIGTERM revokes the lease, so the instance leaves at once rather
 * than when the lease expires. In static mode the instances file is the registry: the launcher,
 * standing in for the deploy tooling that would own that file, writes it from each instance's
 * `listening` message — this returns the labels for that message.
 */
export async function join(
  registry: Registry,
  service: string,
  port: number,
): Promise<{ labels: Record<string, string>; registration: Registration | null }> {
  if (self.registry === 'etcd') {
    const registration = await register(registry, {
      service,
      port,
      host: HOST,
      id: self.id,
      labelsFile: false,
      closeOnSignals: true,
    });
    return { labels: { ...registration.instance.labels }, registration };
  }
  return { labels: self.lane === null ? {} : { [laneLabelFor(self.lane)]: self.lane }, registration: null };
}

/** Tells the launcher which healthy instances of `service` this process sees, now and on change. */
export function reportRoutes(discovery: Discovery, service: string): void {
  discovery.watch(service, (instances) => {
    send({
      type: 'routes',
      id: self.id,
      service,
      instances: instances.filter((i) => i.healthy).map((i) => i.id),
    });
  });
}

/** Runs a process's main; any failure is reported to the launcher and ends the process. */
export function run(main: () => Promise<void>): void {
  // The launcher went away (it crashed, or Ctrl-C reached it first): leave as on SIGTERM.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  main().catch((error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    send({ type: 'fatal', id: self.id, message });
    console.error(`[${self.id}] ${message}`);
    process.exit(1);
  });
}
