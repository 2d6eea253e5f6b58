// Prints which Pod each lane reaches, from inside the cluster (service account) or from a
// workstation ($KUBECONFIG / ~/.kube/config):  npx tsx examples/kubernetes/show-lanes.ts
import { createDiscovery } from '@graylane/discovery';
import type { KubernetesRegistryOptions } from '@graylane/discovery/kubernetes';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import { LANE_LABELS, REGISTRY_OPTIONS } from './discovery-config';

/** One row per (service, lane): the Pod picked, or why none was. */
export interface LaneRow {
  readonly service: string;
  readonly lane: string;
  readonly pod: string;
}

/** Reads the example's services once and resolves each lane to a Pod. `kubeConfig` defaults to loadFromDefault(). */
export async function showLanes(kubeConfig?: KubernetesRegistryOptions['kubeConfig']): Promise<LaneRow[]> {
  const registry = kubernetesRegistry({ ...REGISTRY_OPTIONS, ...(kubeConfig ? { kubeConfig } : {}) });
  const discovery = createDiscovery({ registry, laneLabels: LANE_LABELS });
  try {
    const rows: LaneRow[] = [];
    for (const service of Object.keys(REGISTRY_OPTIONS.services)) {
      await discovery.ready(service, { timeoutMs: 10_000 });
      for (const lane of [null, 'gray'] as const) {
        let pod: string;
        try {
          const instance = discovery.pick(service, lane);
          pod = `${instance.id} (${instance.host}:${instance.port})`;
        } catch (error) {
          pod = `none: ${(error as { code?: string }).code ?? String(error)}`;
        }
        rows.push({ service, lane: lane ?? '(base)', pod });
      }
    }
    return rows;
  } finally {
    await discovery.close();
    await registry.close();
  }
}

if (require.main === module) {
  showLanes().then(
    (rows) => console.table(rows),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
