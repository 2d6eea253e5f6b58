import type { Instance } from '../instance';

/** `host:port` of an instance, with IPv6 hosts in brackets (URL authority form). */
export function hostPort(instance: Pick<Instance, 'host' | 'port'>): string {
  return instance.host.includes(':')
    ? `[${instance.host}]:${instance.port}`
    : `${instance.host}:${instance.port}`;
}
