import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { type CompiledEdge, compileEdge, type EdgeOptions, observeEdgeOutcome } from '@graylane/rules';
import { isFastifyInstance, pluginNotCalled } from './internal/plugin-not-called';
import type { LaneFastifyPlugin, LaneFastifyReply, LaneFastifyRequest } from './lane-fastify-plugin';

/**
 * Options of {@link laneFastifyEdge}: the same as `laneEdge` of `@graylane/express` — `rules`
 * (a list, a compiled set, a rule source, or a `liveRules()` / `releasePlan()` provider), `trust`,
 * `ingress` — as `compileEdge()` of `@graylane/rules` takes them (see `EdgeOptions` there).
 */
export interface LaneFastifyEdgeOptions extends EdgeOptions {}

const LANE_FASTIFY_EDGE_OPTION_KEYS: readonly string[] = Object.keys({
  rules: 1,
  trust: 1,
  ingress: 1,
  maxInputLength: 1,
  random: 1,
} satisfies Record<keyof LaneFastifyEdgeOptions, 1>);

/**
 * The plugin {@link laneFastifyEdge} returns, with the edge's provider and `close()`.
 *
 * @example
 * const edge: LaneFastifyEdgePlugin = laneFastifyEdge({ rules: liveRules({ source }) });
 * app.register(edge);
 * edge.rules.current.version; // the set in force
 */
export type LaneFastifyEdgePlugin = LaneFastifyPlugin & {
  /** The rule-set provider this edge reads (the `liveRules()` it made for a source). */
  readonly rules: CompiledEdge['rules'];
  /** Stops the source when the edge made its own `liveRules()` for one; otherwise does nothing. */
  close(): Promise<void>;
};

const SKIP_OVERRIDE = Symbol.for('skip-override');
const DISPLAY_NAME = Symbol.for('fastify.display-name');

/**
 * A Fastify plugin (4 and 5) for the edge (gateway, BFF): assigns each request its lane by rules
 * in an `onRequest` hook, then runs the rest of the request in that lane exactly as
 * {@link laneFastify} does. Same edge as `laneEdge` of `@graylane/express` (both are
 * `compileEdge()` of `@graylane/rules`): a client tag kept by `trust` settles the lane; otherwise
 * client tags are stripped from the request headers, the rules decide, the winning rule's
 * `setHeaders` / `addHeaders` / `removeHeaders` are applied, and every lane carrier (lane header,
 * sources, baggage, raw headers, trailers) says the lane or nothing. Publishes
 * `graylane:edge:decision` when subscribed. Never throws on request input.
 *
 * With live rules (a rule source, `liveRules()`, `releasePlan()`), each request reads the set in
 * force once and is decided entirely by it; `ruleSetVersionOf(request.raw)` (`@graylane/rules`)
 * returns its version, and a `releasePlan()` is told each response's status for its analysis. A
 * source the edge wrapped itself is closed with the Fastify instance (`app.close()`), or by the
 * plugin's `close()`.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for a bad rule, at setup.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options, or a rule that writes the
 *   lane header with another value than its lane.
 * @example
 * app.register(laneFastifyEdge({ rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'user-agent', value: 'foo' }] }] }] }));
 * // Live: rules from a file, reloaded on change.
 * app.register(laneFastifyEdge({ rules: fileRuleSource({ path: '/etc/graylane/rules.yaml' }) }));
 * app.get('/v', async (request) => ({ version: ruleSetVersionOf(request.raw) }));
 */
export function laneFastifyEdge(options: LaneFastifyEdgeOptions): LaneFastifyEdgePlugin {
  if (isFastifyInstance(options)) {
    // biome-ignore lint/complexity/noArguments: `app.register(laneFastifyEdge)` hands the factory (instance, opts, done)
    const done: unknown = arguments[2];
    return pluginNotCalled(
      'laneFastifyEdge',
      'app.register(laneFastifyEdge({ rules }))',
      done,
    ) as unknown as LaneFastifyEdgePlugin;
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { rules, trust?, ingress? }');
  }
  assertKnownOptions('laneFastifyEdge()', options, LANE_FASTIFY_EDGE_OPTION_KEYS);
  const edge = compileEdge(options);

  function laneEdgeOnRequest(
    request: LaneFastifyRequest,
    reply: LaneFastifyReply,
    done: (error?: Error) => void,
  ): void {
    const settled = edge.settle(request.raw);
    observeEdgeOutcome(reply.raw, edge.rules, settled.lane);
    edge.runInLane(settled, request.raw, reply.raw, done);
  }
  function laneEdgeOnClose(_instance: unknown, done: (error?: Error) => void): void {
    edge.close().then(
      () => done(),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  }

  const plugin: LaneFastifyPlugin = function laneFastifyEdge(instance, _options, done) {
    instance.addHook('onRequest', laneEdgeOnRequest);
    instance.addHook('onClose', laneEdgeOnClose);
    done();
  };
  Object.defineProperty(plugin, SKIP_OVERRIDE, { value: true });
  Object.defineProperty(plugin, DISPLAY_NAME, { value: 'graylane-edge' });
  return Object.assign(plugin, { rules: edge.rules, close: (): Promise<void> => edge.close() });
}
