import { InvalidOptionError } from '@graylane/core';
import type { Discovery } from './create-discovery';
import { isServiceName } from './normalize-instance';

/**
 * Default `loadTimeoutMs` of `laneDispatcher` and `laneAxiosDiscovery`: how long a request for a
 * service whose first instance set has not arrived waits for it.
 *
 * @example
 * laneDispatcher({ discovery, loadTimeoutMs: DEFAULT_LOAD_TIMEOUT_MS * 2 });
 */
export const DEFAULT_LOAD_TIMEOUT_MS = 5_000;

/**
 * Which request hosts the HTTP integrations treat as services (routed through discovery, never
 * through DNS): a list of host names, or a function of the (lowercase) host name.
 *
 * @example
 * const services: ServiceHosts = (host) => host.endsWith('.svc.cluster.local') || !host.includes('.');
 */
export type ServiceHosts = readonly string[] | ((host: string) => boolean);

/**
 * True for a host that looks like a service address rather than an internet or loopback name: a
 * single DNS label (no dot), not `localhost`, not an IP literal — `svc-b`, `orders`. This is how
 * Kubernetes Service names and registry service names are usually written, and exactly the names
 * that would otherwise resolve through DNS around discovery (a Kubernetes Service reaches every
 * pod, gray ones included).
 *
 * @example
 * isServiceHost('svc-b'); // true
 * isServiceHost('api.example.com'); // false
 * isServiceHost('localhost'); // false
 */
export function isServiceHost(host: string): boolean {
  return host !== 'localhost' && !host.includes('.') && !host.includes(':') && isServiceName(host);
}

/**
 * The host test the HTTP integrations use. Without `services`: a host is a service when
 * {@link isServiceHost} says so, when `discovery` already tracks it, or when the registry holds
 * instances of it right now (`registry.current()`, e.g. a dotted name in a static file).
 *
 * @internal
 */
export function serviceHostTest(
  discovery: Discovery,
  services: ServiceHosts | undefined,
): (host: string) => boolean {
  if (services === undefined) {
    const registry = discovery.registry;
    return function isService(host: string): boolean {
      if (isServiceHost(host) || discovery.tracks(host)) return true;
      if (typeof registry?.current !== 'function' || !isServiceName(host)) return false;
      const now = registry.current(host);
      return now !== undefined && now.length > 0;
    };
  }
  if (typeof services === 'function') {
    return function isService(host: string): boolean {
      try {
        return services(host) === true;
      } catch {
        return false;
      }
    };
  }
  if (!Array.isArray(services) || services.some((s) => typeof s !== 'string')) {
    throw new InvalidOptionError(
      'services',
      'expected an array of service names or a function (host) => boolean',
    );
  }
  const set = new Set(services.map((s) => s.toLowerCase()));
  return function isService(host: string): boolean {
    return set.has(host);
  };
}
