import { FactoryNotCalledError } from '@graylane/core';
import type { LaneFastifyPlugin } from '../lane-fastify-plugin';

// `app.register(laneFastify)` hands the factory what Fastify hands a plugin: (instance, opts, done).

/** Whether `value` is a Fastify instance (what a plugin gets first), not an options object. */
export function isFastifyInstance(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { addHook?: unknown; register?: unknown; decorate?: unknown; route?: unknown };
  return (
    typeof v.addHook === 'function' &&
    typeof v.register === 'function' &&
    typeof v.decorate === 'function' &&
    typeof v.route === 'function'
  );
}

/**
 * What a plugin factory does when Fastify called it as the plugin: the typed error goes to `done`,
 * so `app.ready()` / `app.listen()` reject with it (thrown when there is no `done`). Returns a
 * plugin that fails the same way, in place of the plugin it would have built.
 */
export function pluginNotCalled(factory: string, usage: string, done: unknown): LaneFastifyPlugin {
  const error = new FactoryNotCalledError(factory, usage);
  if (typeof done !== 'function') throw error;
  (done as (err: Error) => void)(error);
  return function pluginNotCalled(_instance, _options, done) {
    done(error);
  };
}
