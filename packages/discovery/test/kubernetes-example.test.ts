// examples/kubernetes cannot drift from the code: its manifests are parsed and checked against the
// example's discovery-config.ts (which README.md quotes verbatim), then turned into Pods on the fake
// API server and resolved through kubernetesRegistry + createDiscovery with that same config.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { laneOf } from '@graylane/discovery';
import { parseAllDocuments } from 'yaml';
import { LANE_LABELS, NAMESPACE, REGISTRY_OPTIONS } from '../../../examples/kubernetes/discovery-config';
import { showLanes } from '../../../examples/kubernetes/show-lanes';
import { FakeKubeApiServer, loadKubeClient } from '../../../test/helpers/fake-kube-apiserver';

const DIR = join(__dirname, '..', '..', '..', 'examples', 'kubernetes');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, narrowed by the assertions below.
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, narrowed by the assertions below.
  rules?: any;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, narrowed by the assertions below.
  subjects?: any;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, narrowed by the assertions below.
  roleRef?: any;
}

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.join('; ')}`);
      const value = doc.toJS() as Manifest | null;
      if (value) out.push(value);
    }
  }
  return out;
}

function one(all: Manifest[], kind: string, name: string): Manifest {
  const found = all.filter((m) => m.kind === kind && m.metadata.name === name);
  assert.equal(found.length, 1, `exactly one ${kind} ${name}`);
  return found[0]!;
}

const all = manifests();
const deployments = all.filter((m) => m.kind === 'Deployment');
const services = all.filter((m) => m.kind === 'Service');
// The seed scenario: which Deployments make up each service, and the lane of each.
const EXPECTED_LANES: Record<string, string | undefined> = {
  'a-stable': undefined,
  'a-gray': 'gray',
  'b-stable': undefined,
};

test('every object is in the example namespace, and the namespace is created', () => {
  one(all, 'Namespace', NAMESPACE);
  for (const m of all)
    if (m.kind !== 'Namespace') assert.equal(m.metadata.namespace, NAMESPACE, `${m.kind} ${m.metadata.name}`);
});

test("the Services are exactly the registry's services; each selector picks exactly that service's Deployments", () => {
  assert.deepEqual(
    services.map((s) => s.metadata.name).sort(),
    Object.keys(REGISTRY_OPTIONS.services).sort(),
  );
  assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), Object.keys(EXPECTED_LANES).sort());
  for (const [name, options] of Object.entries(REGISTRY_OPTIONS.services)) {
    const service = one(all, 'Service', name);
    const selector = service.spec.selector as Record<string, string>;
    assert.ok(
      selector && Object.keys(selector).length > 0,
      `Service ${name} has a selector (the registry reads it)`,
    );
    assert.equal('selector' in options, false, 'the example relies on the Service selectors');
    const selected = deployments
      .filter((d) => Object.entries(selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v))
      .map((d) => d.metadata.name)
      .sort();
    assert.deepEqual(
      selected,
      Object.keys(EXPECTED_LANES)
        .filter((d) => d.startsWith(`${name}-`))
        .sort(),
    );
    for (const d of deployments.filter((x) => selected.includes(x.metadata.name))) {
      const ports = d.spec.template.spec.containers.flatMap(
        (c: { ports?: { name?: string }[] }) => c.ports ?? [],
      );
      assert.ok(
        ports.some((p: { name?: string }) => p.name === options.port),
        `${d.metadata.name} declares the container port '${options.port}' the registry uses`,
      );
    }
    assert.ok(service.spec.ports.every((p: { targetPort: unknown }) => p.targetPort === options.port));
  }
});

test('the pod templates carry exactly the lanes of the seed scenario, in both label forms on a-gray', () => {
  for (const d of deployments) {
    const labels = d.spec.template.metadata.labels as Record<string, string>;
    assert.equal(laneOf({ labels }, LANE_LABELS), EXPECTED_LANES[d.metadata.name], d.metadata.name);
    // Each Deployment's own selector picks its own Pods only (no two ReplicaSets fighting).
    const own = d.spec.selector.matchLabels as Record<string, string>;
    for (const other of deployments) {
      const match = Object.entries(own).every(([k, v]) => other.spec.template.metadata.labels[k] === v);
      assert.equal(match, other === d, `${d.metadata.name} selector vs ${other.metadata.name} pods`);
    }
  }
  const gray = one(all, 'Deployment', 'a-gray').spec.template.metadata.labels;
  assert.equal(gray['alicloud.service.tag'], 'gray');
  assert.equal(gray['opensergo.io/canary-gray'], 'gray');
  assert.equal(
    laneOf({ labels: { 'opensergo.io/canary-gray': 'gray' } }, LANE_LABELS),
    'gray',
    'OpenSergo form alone',
  );
});

test('RBAC is the minimal Role: get/list/watch on pods and services, bound to the Pods’ service account', () => {
  const role = one(all, 'Role', 'graylane-discovery');
  assert.deepEqual(role.rules, [
    { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
  ]);
  const account = one(all, 'ServiceAccount', 'graylane-discovery');
  const binding = one(all, 'RoleBinding', 'graylane-discovery');
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: role.metadata.name,
  });
  assert.deepEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: account.metadata.name, namespace: NAMESPACE },
  ]);
  for (const d of deployments) assert.equal(d.spec.template.spec.serviceAccountName, account.metadata.name);
  assert.equal(
    all.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding'),
    false,
  );
});

test('README quotes discovery-config.ts verbatim', () => {
  const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
  const config = readFileSync(join(DIR, 'discovery-config.ts'), 'utf8');
  assert.ok(readme.includes(config.trim()), 'README.md must contain discovery-config.ts as is');
});

test('the manifests, served as Pods by the fake API server, resolve through the example config', async (t) => {
  const k8s = await loadKubeClient();
  const fake = await FakeKubeApiServer.start({}, t);
  for (const s of services) fake.putService(s.metadata.name, s.spec.selector, NAMESPACE);
  let ip = 0;
  for (const d of deployments) {
    for (let i = 0; i < d.spec.replicas; i++) {
      fake.addPod({
        name: `${d.metadata.name}-${i}`,
        namespace: NAMESPACE,
        labels: d.spec.template.metadata.labels,
        ip: `10.30.0.${++ip}`,
        ports: d.spec.template.spec.containers[0].ports,
      });
    }
  }
  // A Pod of another app in the namespace must not show up.
  fake.addPod({ name: 'c-0', namespace: NAMESPACE, labels: { app: 'c', 'alicloud.service.tag': 'gray' } });
  const rows = await showLanes(fake.kubeConfig(k8s.KubeConfig));
  const table = Object.fromEntries(rows.map((r) => [`${r.service} ${r.lane}`, r.pod.split(' ')[0]]));
  assert.match(table['a (base)']!, /^a-stable-\d$/);
  assert.equal(table['a gray'], 'a-gray-0');
  assert.match(table['b (base)']!, /^b-stable-\d$/);
  assert.match(table['b gray']!, /^b-stable-\d$/, 'no gray b: the gray lane falls back to stable b');
  assert.ok(
    fake.requestsOf('service').every((r) => r.path.startsWith(`/api/v1/namespaces/${NAMESPACE}/services/`)),
  );
});
