// The example's discovery configuration. The manifests in this directory are checked against it
// (packages/discovery/test/kubernetes-example.test.ts), and README.md quotes it verbatim.
import { DEFAULT_LANE_LABELS } from '@graylane/discovery';
import type { KubernetesRegistryOptions } from '@graylane/discovery/kubernetes';

/** The namespace of every object in this directory. */
export const NAMESPACE = 'graylane-demo';

/**
 * kubernetesRegistry() options: the Kubernetes Services `a` and `b` select the Pods (no explicit
 * selector), and an instance is a Pod IP + its container port named `http`.
 */
export const REGISTRY_OPTIONS = {
  namespace: NAMESPACE,
  services: {
    a: { port: 'http' },
    b: { port: 'http' },
  },
} as const satisfies KubernetesRegistryOptions;

/** Where discovery reads a Pod's lane: the defaults, which cover both labels a-gray carries. */
export const LANE_LABELS = DEFAULT_LANE_LABELS;
