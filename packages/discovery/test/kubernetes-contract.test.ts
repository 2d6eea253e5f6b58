// The shared registry contract, run against kubernetesRegistry and the fake API server. An added
// instance becomes a Ready Pod (IP = host, container port `http` = port, labels + `app: <service>`)
// selected by a Service of the same name, created on the first add.
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import { FakeKubeApiServer, loadKubeClient } from '../../../test/helpers/fake-kube-apiserver';
import { registryContract } from './registry-contract';

let pods = 0;

registryContract('kubernetes', async () => {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start();
  const registry = kubernetesRegistry({
    kubeConfig: fake.kubeConfig(k8s.KubeConfig),
    services: {},
    retryInitialMs: 20,
    retryMaxMs: 200,
  });
  const services = new Set<string>();
  return {
    registry,
    supportsRegister: false,
    async add(instance) {
      if (!services.has(instance.service)) {
        services.add(instance.service);
        fake.putService(instance.service, { app: instance.service });
      }
      const name = `${instance.service}-${++pods}`;
      fake.addPod({
        name,
        labels: { ...instance.labels, app: instance.service },
        ip: instance.host,
        ready: instance.healthy ?? true,
        ports: [{ name: 'http', containerPort: instance.port }],
      });
      return async () => {
        if (fake.getPod(name)) fake.deletePod(name);
      };
    },
    dispose: () => fake.close(),
  };
});
