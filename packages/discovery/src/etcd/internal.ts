/** `Registry.name` of the etcd registry, and the `registry` field of its diagnostics messages. */
export const REGISTRY_NAME = 'etcd';

/** A caught value's message, for error texts (caught values are `unknown`). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Resolves or rejects like `promise`, or resolves `undefined` after `ms` (unref'd timer). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
