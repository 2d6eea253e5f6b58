import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDiscovery, staticRegistry } from '@graylane/discovery';
import { registerLaneChannel, UnsupportedGrpcError } from '@graylane/grpc';
import { experimental } from '@grpc/grpc-js';

// The lane channel is written against grpc-js >= 1.14's resolver/LB API (StatusOr results).
// scripts/grpc-js-compat.mjs runs this file against older versions too.
test('registerLaneChannel needs the grpc-js >= 1.14 experimental API and says so otherwise', async () => {
  const registry = staticRegistry({ env: false });
  const discovery = createDiscovery({ registry });
  const supported = typeof (experimental as { statusOrFromValue?: unknown }).statusOrFromValue === 'function';
  if (supported) {
    registerLaneChannel({ discovery, scheme: 'graylane-support' }).close();
  } else {
    assert.throws(() => registerLaneChannel({ discovery, scheme: 'graylane-support' }), UnsupportedGrpcError);
    assert.throws(() => registerLaneChannel({ discovery, scheme: 'graylane-support' }), {
      code: 'GL_ERR_GRPC_UNSUPPORTED',
      message: /needs @grpc\/grpc-js >= 1\.14/,
    });
  }
  await discovery.close();
  await registry.close();
});
