// Authentication paths against the fake API server:
// - in cluster: client-node's loadFromCluster() reads KUBERNETES_SERVICE_HOST/PORT and the service
//   account files (token, ca.crt, namespace). It reads them under a fixed root
//   (/var/run/secrets/kubernetes.io/serviceaccount) which it lets tests move with a path prefix;
//   the server is HTTPS with a certificate that only that ca.crt trusts;
// - the default (no kubeConfig option): loadFromDefault() follows $KUBECONFIG.
// Not exercised: loadFromDefault()'s own in-cluster branch (it checks the fixed path, which tests
// cannot create), token rotation, client certificates, exec/OIDC plugins, real RBAC.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RegistryUpdate } from '@graylane/discovery';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import selfsigned from 'selfsigned';
import { FakeKubeApiServer, loadKubeClient } from '../../../test/helpers/fake-kube-apiserver';
import { UpdateRecorder } from './registry-contract';

const SERVICEACCOUNT = 'var/run/secrets/kubernetes.io/serviceaccount';

async function certificate(): Promise<{ key: string; cert: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'fake-kube-apiserver' }], {
    keyType: 'ec',
    curve: 'P-256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { key: pems.private, cert: pems.cert };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'graylane-k8s-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the service-account files under `<dir>/var/run/...`; returns the prefix for loadFromCluster. */
async function serviceAccount(
  dir: string,
  files: { token: string; ca: string; namespace: string },
): Promise<string> {
  const root = join(dir, SERVICEACCOUNT);
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'token'), files.token);
  await writeFile(join(root, 'ca.crt'), files.ca);
  await writeFile(join(root, 'namespace'), files.namespace);
  return `${dir}/`;
}

/** Runs `fn` with environment variables set, restoring them afterwards. */
function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function hosts(update: RegistryUpdate): string[] | undefined {
  return update.ok ? update.instances.map((i) => `${i.id}@${i.host}:${i.port}`) : undefined;
}

test('in cluster: service-account token, CA and namespace files over verified TLS', async (t) => {
  const k8s = await loadKubeClient();
  const tls = await certificate();
  const fake = await FakeKubeApiServer.start({ tls, token: 'sa-token-123' }, t);
  fake.putService('a', { app: 'a' }, 'shop');
  fake.addPod({ name: 'a-1', namespace: 'shop', labels: { app: 'a' }, ip: '10.20.0.1' });
  fake.addPod({ name: 'a-1', namespace: 'default', labels: { app: 'a' }, ip: '10.20.9.9' });
  const prefix = await serviceAccount(await tempDir(t), {
    token: 'sa-token-123',
    ca: tls.cert,
    namespace: 'shop',
  });

  const kubeConfig = new k8s.KubeConfig();
  withEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(fake.port) }, () =>
    kubeConfig.loadFromCluster(prefix),
  );
  assert.equal(kubeConfig.getCurrentCluster()?.server, `https://127.0.0.1:${fake.port}`);

  const registry = kubernetesRegistry({ kubeConfig, services: { a: { port: 'http' } }, retryInitialMs: 20 });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('a', recorder.listener));
  const update = await recorder.waitFor((u) => u.ok, 5000, 'the first set');
  assert.deepEqual(hosts(update), ['a-1@10.20.0.1:8080'], "the namespace file's namespace (shop) was used");
  assert.ok(fake.requests.every((r) => r.path.startsWith('/api/v1/namespaces/shop/')));
  await fake.waitForWatches(1);
  fake.addPod({ name: 'a-2', namespace: 'shop', labels: { app: 'a' }, ip: '10.20.0.2' });
  await recorder.waitFor((u) => u.ok && u.instances.length === 2, 5000, 'a-2 through the TLS watch');
});

test('in cluster: a server certificate the CA file does not trust is refused', async (t) => {
  const k8s = await loadKubeClient();
  const served = await certificate();
  const other = await certificate();
  const fake = await FakeKubeApiServer.start({ tls: served, token: 'sa-token' }, t);
  fake.putService('a', { app: 'a' });
  const prefix = await serviceAccount(await tempDir(t), {
    token: 'sa-token',
    ca: other.cert,
    namespace: 'default',
  });
  const kubeConfig = new k8s.KubeConfig();
  withEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(fake.port) }, () =>
    kubeConfig.loadFromCluster(prefix),
  );
  const registry = kubernetesRegistry({ kubeConfig, services: { a: {} }, retryInitialMs: 20 });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('a', recorder.listener));
  const update = await recorder.waitFor((u) => !u.ok, 5000, 'the TLS failure');
  assert.ok(!update.ok);
  assert.equal((update.error as Error & { code?: string }).code, 'GL_ERR_REGISTRY_UNAVAILABLE');
  assert.match(update.error.message, /certificate|self.signed|verify/i);
  assert.equal(fake.requests.length, 0, 'no request got through the handshake');
});

test('default kubeConfig: loadFromDefault() follows $KUBECONFIG, namespace from its context', async (t) => {
  const fake = await FakeKubeApiServer.start({ token: 'kubeconfig-token' }, t);
  fake.putService('b', { app: 'b' }, 'team-b');
  fake.addPod({ name: 'b-1', namespace: 'team-b', labels: { app: 'b' }, ip: '10.21.0.1' });
  const file = join(await tempDir(t), 'config');
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster:\n    server: ${fake.url}\n    insecure-skip-tls-verify: true`,
      'users:',
      '- name: me\n  user:\n    token: kubeconfig-token',
      'contexts:',
      '- name: here\n  context:\n    cluster: fake\n    user: me\n    namespace: team-b',
      'current-context: here',
      '',
    ].join('\n'),
  );
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = file;
  t.after(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });
  const registry = kubernetesRegistry({ services: { b: {} }, retryInitialMs: 20 });
  t.after(() => registry.close());
  const recorder = new UpdateRecorder();
  t.after(registry.subscribe('b', recorder.listener));
  const update = await recorder.waitFor((u) => u.ok, 5000, 'the first set');
  assert.deepEqual(hosts(update), ['b-1@10.21.0.1:8080']);
});
