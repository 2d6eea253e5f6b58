import type * as OtelApi from '@opentelemetry/api';
import { MissingPeerError } from '../errors';

/** The `@opentelemetry/api` module. */
export type OtelApiModule = typeof OtelApi;

// Loaded on the first enable that needs it, never at module load: core has no runtime dependencies.
let loaded: OtelApiModule | null = null;

/**
 * `@opentelemetry/api` (an optional peer dependency), loaded once.
 *
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` naming `caller` when it cannot be loaded.
 */
export function loadOtelApi(caller: string): OtelApiModule {
  if (loaded !== null) return loaded;
  try {
    loaded = require('@opentelemetry/api') as OtelApiModule;
  } catch (error) {
    throw new MissingPeerError(caller, '@opentelemetry/api', { cause: error });
  }
  return loaded;
}
