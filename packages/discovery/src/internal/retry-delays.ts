// Retry-delay options shared by the watching registries (etcd, Kubernetes), validated once at setup.
import { InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';

/** The retry-delay options of a registry (see `Backoff`), in milliseconds. */
export interface RetryDelays {
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

/**
 * Validates `retryInitialMs` and `retryMaxMs`. An unset `retryMaxMs` defaults to the larger of its
 * default and `retryInitialMs`; a `retryMaxMs` below `retryInitialMs` throws `GL_ERR_INVALID_OPTION`.
 */
export function retryDelayOptions(
  options: { readonly retryInitialMs?: unknown; readonly retryMaxMs?: unknown },
  defaults: RetryDelays,
): RetryDelays {
  const retryInitialMs = positiveOption(options.retryInitialMs, 'retryInitialMs', defaults.retryInitialMs);
  const retryMaxMs = positiveOption(
    options.retryMaxMs,
    'retryMaxMs',
    Math.max(defaults.retryMaxMs, retryInitialMs),
  );
  if (retryMaxMs < retryInitialMs) throw new InvalidOptionError('retryMaxMs', 'must be >= retryInitialMs');
  return { retryInitialMs, retryMaxMs };
}
