import { MissingPeerError } from '@graylane/core';
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** The `@kubernetes/client-node` module (1.x is ESM-only; loaded with `import()`). */
export type KubernetesClientModule = typeof K8s;

const PEER = '@kubernetes/client-node';
let loading: Promise<KubernetesClientModule> | undefined;

/** @internal Throws `GL_ERR_MISSING_PEER` at setup when the optional peer cannot be resolved. */
export function assertKubernetesClientInstalled(feature: string): void {
  try {
    require.resolve(PEER);
  } catch (error) {
    throw new MissingPeerError(feature, PEER, { cause: error });
  }
}

/** @internal Loads `@kubernetes/client-node` once (the same way discovery's registry does). */
export function loadKubernetesClient(feature: string): Promise<KubernetesClientModule> {
  loading ??= import(PEER).then(
    (module: KubernetesClientModule) => module,
    (error: unknown) => {
      loading = undefined;
      throw new MissingPeerError(feature, PEER, { cause: error });
    },
  );
  return loading;
}
