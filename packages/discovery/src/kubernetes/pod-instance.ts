import type { PortSpec } from './options';

/**
 * The parts of a Pod the registry reads. Both shapes client-node hands out fit: the plain JSON of a
 * watch event and the deserialized `V1Pod` of a list (where `deletionTimestamp` is a `Date`).
 */
export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>> | null;
    readonly deletionTimestamp?: unknown;
  } | null;
  readonly spec?: {
    readonly containers?: ReadonlyArray<{
      readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort?: number }> | null;
    }> | null;
  } | null;
  readonly status?: {
    readonly podIP?: string;
    readonly conditions?: ReadonlyArray<{ readonly type?: string; readonly status?: string }> | null;
  } | null;
}

/**
 * The container port an instance listens on: the named port, the given number, or the first
 * declared port. `undefined` when the Pod declares no such port.
 */
export function podPort(pod: PodLike, port: PortSpec): number | undefined {
  if (typeof port === 'number') return port;
  const containers = pod.spec?.containers;
  if (!containers) return undefined;
  for (let c = 0; c < containers.length; c++) {
    const ports = containers[c]!.ports;
    if (!ports) continue;
    for (let p = 0; p < ports.length; p++) {
      const candidate = ports[p]!;
      if (port === undefined || candidate.name === port) {
        const number = candidate.containerPort;
        return typeof number === 'number' && number > 0 ? number : undefined;
      }
    }
  }
  return undefined;
}

/** Ready condition `True` and not terminating (no `deletionTimestamp`). */
export function podHealthy(pod: PodLike): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  const conditions = pod.status?.conditions;
  if (!conditions) return false;
  for (let i = 0; i < conditions.length; i++) {
    const condition = conditions[i]!;
    if (condition.type === 'Ready') return condition.status === 'True';
  }
  return false;
}
