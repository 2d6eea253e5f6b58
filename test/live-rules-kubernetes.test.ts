// Rule sources on Kubernetes objects, against the in-process API server the registry tests use:
// a ConfigMap holding graylane rules, an Istio VirtualService and an ingress-nginx canary Ingress
// (through the importers) change under watch; the edge follows; bad changes and deletions keep
// the last good set.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveRules } from '@graylane/rules';
import { kubernetesRuleSource } from '@graylane/rules/kubernetes';
import { FakeKubeApiServer, loadKubeClient } from './helpers/fake-kube-apiserver';
import { measure, startEdge, until } from './helpers/live-edge';

function configMap(weight: number) {
  return {
    metadata: { name: 'edge-rules', namespace: 'shop' },
    data: { 'rules.yaml': `rules:\n  - lane: gray\n    weight: ${weight}\n    sticky: { header: x-user }\n` },
  };
}

function virtualService(grayWeight: number) {
  return {
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: {
      hosts: ['reviews'],
      http: [
        {
          match: [{ headers: { 'x-user': { exact: 'tester' } } }],
          route: [{ destination: { host: 'reviews', subset: 'v2' } }],
        },
        {
          route: [
            { destination: { host: 'reviews', subset: 'v1' }, weight: 100 - grayWeight },
            { destination: { host: 'reviews', subset: 'v2' }, weight: grayWeight },
          ],
        },
      ],
    },
  };
}

test('a ConfigMap source follows the object under watch through a real edge', async (t) => {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start({}, t);
  fake.putObject('configmaps', configMap(10));
  const live = liveRules({
    source: kubernetesRuleSource({
      kind: 'ConfigMap',
      name: 'edge-rules',
      namespace: 'shop',
      kubeConfig: fake.kubeConfig(k8s.KubeConfig),
    }),
  });
  t.after(() => live.close());
  await live.ready();
  assert.equal(live.current.source, 'kubernetes:ConfigMap/shop/edge-rules');
  const edge = await startEdge(t, { rules: live });
  const share = async () =>
    ((await measure(edge, 'user', 1000)).filter((s) => s.lane === 'gray').length / 1000) * 100;
  assert.ok(Math.abs((await share()) - 10) <= 3);

  fake.putObject('configmaps', configMap(60));
  await until('the ConfigMap change', () => live.current.rules.rules[0]?.weight === 60);
  assert.ok(Math.abs((await share()) - 60) <= 4);
  assert.equal(live.current.revision, String(fake.resourceVersion));

  // Another ConfigMap in the namespace is not ours.
  fake.putObject('configmaps', {
    metadata: { name: 'other', namespace: 'shop' },
    data: { 'rules.yaml': '[]' },
  });
  // A bad change is rejected; the last good set stays.
  fake.putObject('configmaps', {
    metadata: { name: 'edge-rules', namespace: 'shop' },
    data: { 'rules.yaml': '- lane: "Not A Lane!"' },
  });
  await until('the rejection', () => live.status().rejected === 1);
  assert.equal(live.current.rules.rules[0]?.weight, 60);
  // Deleted: reported, last good stays; re-created: followed again.
  fake.deleteObject('configmaps', 'edge-rules', 'shop');
  const t1 = Date.now();
  await until('the deletion', () => live.status().sourceErrors === 1);
  t.diagnostic(`deletion after ${Date.now() - t1} ms`);
  assert.match(live.status().lastError?.message ?? '', /deleted/);
  assert.equal(live.current.rules.rules[0]?.weight, 60);
  // A watch cut by the server resumes from its resourceVersion without losing the next change.
  fake.endWatches();
  fake.putObject('configmaps', configMap(0));
  const t0 = Date.now();
  await until('the re-created ConfigMap', () => live.current.rules.rules[0]?.weight === 0);
  t.diagnostic(`recreated after ${Date.now() - t0} ms`);
  assert.equal(await share(), 0);
});

test('an Istio VirtualService and an ingress-nginx canary Ingress followed through the importers', async (t) => {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start({}, t);
  const kubeConfig = fake.kubeConfig(k8s.KubeConfig, 'shop');
  fake.putObject('virtualservices', virtualService(20));
  fake.putObject('ingresses', {
    metadata: {
      name: 'web-canary',
      namespace: 'shop',
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-by-header': 'foo',
        'nginx.ingress.kubernetes.io/canary-by-header-value': 'bar',
      },
    },
    spec: { rules: [] },
  });
  const vs = liveRules({
    source: kubernetesRuleSource({
      kind: 'VirtualService',
      name: 'reviews',
      kubeConfig,
      import: { subsetLanes: { v1: null, v2: 'gray' } },
    }),
  });
  const ingress = liveRules({
    source: kubernetesRuleSource({
      kind: 'Ingress',
      name: 'web-canary',
      kubeConfig,
      import: { lane: 'gray' },
    }),
  });
  t.after(() => Promise.all([vs.close(), ingress.close()]));
  await Promise.all([vs.ready(), ingress.ready()]);
  const lane = (rules: typeof vs, headers: Record<string, string>) =>
    rules.current.rules.decide({ headers }).lane;
  assert.equal(lane(vs, { 'x-user': 'tester' }), 'gray');
  assert.equal(lane(ingress, { foo: 'bar' }), 'gray');
  assert.equal(lane(ingress, { foo: 'baz' }), undefined);

  fake.putObject('virtualservices', virtualService(100));
  await until('the VirtualService change', () => lane(vs, { 'x-user': 'anyone' }) === 'gray');
  fake.putObject('ingresses', {
    metadata: {
      name: 'web-canary',
      namespace: 'shop',
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-by-header': 'foo',
        'nginx.ingress.kubernetes.io/canary-by-header-value': 'baz',
      },
    },
    spec: { rules: [] },
  });
  await until('the Ingress change', () => lane(ingress, { foo: 'baz' }) === 'gray');
  assert.equal(lane(ingress, { foo: 'bar' }), undefined);
  // An annotation the importer refuses: rejected with GL_ERR_INVALID_IMPORT wrapped, last good stays.
  fake.putObject('ingresses', {
    metadata: {
      name: 'web-canary',
      namespace: 'shop',
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '250',
      },
    },
  });
  await until('the rejection', () => ingress.status().rejected === 1);
  assert.equal(lane(ingress, { foo: 'baz' }), 'gray');
});
