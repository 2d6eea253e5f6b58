import { MissingPeerError } from '@graylane/core';
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** The `@kubernetes/client-node` module (1.x is ESM-only; it is loaded with `import()`). */
export type KubernetesClientModule = typeof K8s;

const PEER = '@kubernetes/client-node';

let loading: Promise<KubernetesClientModule> | undefined;

/**
 * Throws `GL_ERR_MISSING_PEER` at setup when the optional peer cannot be resolved, so a missing
 * install fails at `kubernetesRegistry()` rather than on the first subscription.
 */
export function assertKubernetesClientInstalled(): void {
  try {
    require.resolve(PEER);
  } catch (error) {
    throw new MissingPeerError('kubernetesRegistry()', PEER, { cause: error });
  }
}

/**
 * Loads `@kubernetes/client-node` once. It is an ES module; `import()` works on every Node version
 * we support (`require()` of ESM only from Node 20.19 / 22.12).
 */
export function loadKubernetesClient(): Promise<KubernetesClientModule> {
  loading ??= import(PEER).then(
    (module: KubernetesClientModule) => module,
    (error: unknown) => {
      loading = undefined;
      throw new MissingPeerError('kubernetesRegistry()', PEER, { cause: error });
    },
  );
  return loading;
}
