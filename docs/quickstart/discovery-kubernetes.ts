import { createDiscovery } from '@graylane/discovery';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';

// Pods selected by the Service "inventory" (port named "http"); $KUBECONFIG, ~/.kube/config or in-cluster.
const registry = kubernetesRegistry({ services: { inventory: { port: 'http' } } });
const discovery = createDiscovery({ registry, fallback: { 'feature-x': 'gray' } });

discovery.ready('inventory').then(async () => {
  for (const lane of [null, 'gray', 'feature-x']) {
    const pod = discovery.pick('inventory', lane); // a Pod labelled alicloud.service.tag=<lane>, else stable
    console.log(`${lane ?? 'base'} -> ${pod.id} ${pod.host}:${pod.port}`);
  }
  discovery.close();
  await registry.close();
});
