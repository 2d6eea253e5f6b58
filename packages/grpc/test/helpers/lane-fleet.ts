import type { TestContext } from 'node:test';
import { createDiscovery, type Discovery, type DiscoveryOptions, staticRegistry } from '@graylane/discovery';
import { laneClientInterceptor, laneServerInterceptor, registerLaneChannel } from '@graylane/grpc';
import { type EchoClient, type EchoServerOptions, echoClient, startEchoServer } from './echo';

export const GRAY = { 'alicloud.service.tag': 'gray' };

export interface FleetMember {
  readonly name: string;
  readonly labels?: Record<string, string>;
}

export interface Fleet {
  readonly registry: ReturnType<typeof staticRegistry>;
  readonly discovery: Discovery;
  readonly ports: Record<string, number>;
  /** A lane-aware client for `<scheme>:///<service>` with the lane client interceptor. */
  client(service: string): EchoClient;
}

/**
 * Starts one Echo server per member (all with the lane server interceptor), puts them in a
 * static registry as instances of `service`, creates a discovery over it and registers the
 * lane channel for `scheme`. Everything is closed in `t.after`.
 */
export async function startFleet(
  t: TestContext,
  options: {
    scheme: string;
    service: string;
    members: readonly FleetMember[];
    discovery?: Omit<DiscoveryOptions, 'registry'>;
    server?: Omit<EchoServerOptions, 'name'>;
  },
): Promise<Fleet> {
  const ports: Record<string, number> = {};
  const instances = [];
  for (const member of options.members) {
    const { port } = await startEchoServer(
      { ...options.server, name: member.name, interceptors: [laneServerInterceptor()] },
      t,
    );
    ports[member.name] = port;
    instances.push({
      service: options.service,
      id: member.name,
      host: '127.0.0.1',
      port,
      labels: member.labels,
    });
  }
  const registry = staticRegistry({ instances, env: false });
  const discovery = createDiscovery({ ...options.discovery, registry });
  const registration = registerLaneChannel({ discovery, scheme: options.scheme });
  t.after(async () => {
    registration.close();
    await discovery.close();
    await registry.close();
  });
  return {
    registry,
    discovery,
    ports,
    client: (service) =>
      echoClient(`${options.scheme}:///${service}`, { interceptors: [laneClientInterceptor()] }, t),
  };
}
