import {
  assertKnownOptions,
  type CompiledIngress,
  compileIngress,
  type IngressOptions,
  requestLaneContext,
  runInRequestLane,
} from '@graylane/core';
import { isFastifyInstance, pluginNotCalled } from './internal/plugin-not-called';
import type { LaneFastifyPlugin, LaneFastifyReply, LaneFastifyRequest } from './lane-fastify-plugin';

/** Options of {@link laneFastify}: where to read the lane and which headers to carry (core's `IngressOptions`). */
export interface LaneFastifyOptions extends IngressOptions {}

const LANE_FASTIFY_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  sources: 1,
  baggageKey: 1,
  baggageValues: 1,
  carry: 1,
} satisfies Record<keyof LaneFastifyOptions, 1>);

// Fastify's documented plugin metadata (what `fastify-plugin` sets): `skip-override` registers
// the hook on the instance it is registered on, not in a new encapsulated context, so routes of
// sibling and child plugins get it too.
const SKIP_OVERRIDE = Symbol.for('skip-override');
const DISPLAY_NAME = Symbol.for('fastify.display-name');

/**
 * A Fastify plugin (Fastify 4 and 5) that reads each request's lane — `x-mse-tag`, then W3C
 * `baggage`, by default — in an `onRequest` hook and runs the rest of the request in that lane:
 * later hooks (`preParsing` … `onSend`), content-type parsers, sync and async handlers, error
 * handlers, `reply.send` of a stream, `onResponse`, and every listener of the raw request and
 * response. Registered on the root instance, it covers routes of every encapsulated plugin. An
 * invalid tag is ignored and counted; the request goes on in the base lane, where the hook costs
 * no context switch and no allocation.
 *
 * @param options ingress options (`header`, `sources`, `baggageKey`, `baggageValues`, `carry`).
 *   Default: `x-mse-tag`, then baggage `x-mse-tag`; nothing carried.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, at setup.
 * @example
 * const app = fastify();
 * app.register(laneFastify());
 * app.get('/', async () => ({ lane: currentLane() }));
 */
export function laneFastify(options: LaneFastifyOptions = {}): LaneFastifyPlugin {
  if (isFastifyInstance(options)) {
    // biome-ignore lint/complexity/noArguments: `app.register(laneFastify)` hands the factory (instance, opts, done)
    return pluginNotCalled('laneFastify', 'app.register(laneFastify())', arguments[2]);
  }
  assertKnownOptions('laneFastify()', options, LANE_FASTIFY_OPTION_KEYS);
  const compiled: CompiledIngress = compileIngress(options);
  function laneOnRequest(
    request: LaneFastifyRequest,
    reply: LaneFastifyReply,
    done: (error?: Error) => void,
  ): void {
    const raw = request.raw;
    runInRequestLane(requestLaneContext(raw.headers, compiled), raw, reply.raw, done);
  }
  const plugin: LaneFastifyPlugin = function laneFastify(instance, _options, done) {
    instance.addHook('onRequest', laneOnRequest);
    done();
  };
  Object.defineProperty(plugin, SKIP_OVERRIDE, { value: true });
  Object.defineProperty(plugin, DISPLAY_NAME, { value: 'graylane' });
  return plugin;
}
