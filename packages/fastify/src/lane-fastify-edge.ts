import {
  assertKnownOptions,
  compileIngress,
  extractLane,
  type IngressOptions,
  InvalidOptionError,
  type Lane,
  RECORD_GETTER,
  requestLaneContext,
  runInRequestLane,
} from '@graylane/core';
import {
  CompiledRules,
  type CompileRulesOptions,
  compileLaneCarriers,
  compileRules,
  compileTrust,
  type EdgeDecision,
  type EdgeDecisionMessage,
  edgeChannels,
  NO_DECISION,
  type Rule,
  setLaneCarriers,
  settleLaneCarriers,
  type TrustPolicy,
} from '@graylane/rules';
import { isFastifyInstance, pluginNotCalled } from './internal/plugin-not-called';
import type { LaneFastifyPlugin, LaneFastifyReply, LaneFastifyRequest } from './lane-fastify-plugin';

/** Options of {@link laneFastifyEdge}: the same as `laneEdge` of `@graylane/express`. */
export interface LaneFastifyEdgeOptions extends CompileRulesOptions {
  /** The edge rules, in order (see `compileRules` in `@graylane/rules`), or an already compiled set. */
  readonly rules: readonly Rule[] | CompiledRules;
  /** A client-sent tag: `'strip'` (default: only rules assign lanes), `'accept'`, or `{ allowlist }`. */
  readonly trust?: TrustPolicy | undefined;
  /** Where a client's tag is read and stripped, and which headers to `carry`. Default `x-mse-tag`, then baggage. */
  readonly ingress?: IngressOptions | undefined;
}

const LANE_FASTIFY_EDGE_OPTION_KEYS: readonly string[] = Object.keys({
  rules: 1,
  trust: 1,
  ingress: 1,
  maxInputLength: 1,
  random: 1,
} satisfies Record<keyof LaneFastifyEdgeOptions, 1>);

type MutableHeaders = Record<string, string | string[] | number | undefined>;

const SKIP_OVERRIDE = Symbol.for('skip-override');
const DISPLAY_NAME = Symbol.for('fastify.display-name');
// The rule set is fixed when the plugin is made: version 1, as `laneEdge` reports for static rules.
const STATIC_VERSION = 1;

/**
 * A Fastify plugin (4 and 5) for the edge (gateway, BFF): assigns each request its lane by rules
 * in an `onRequest` hook, then runs the rest of the request in that lane exactly as
 * {@link laneFastify} does. Same semantics as `laneEdge` of `@graylane/express`: a client tag kept
 * by `trust` settles the lane; otherwise client tags are stripped from the request headers, the
 * rules decide, the winning rule's `setHeaders` / `addHeaders` / `removeHeaders` are applied, and
 * the lane is written to the lane header (so a proxy re-sending the headers carries it). Publishes
 * `graylane:edge:decision` when subscribed. Never throws on request input.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for a bad rule, at setup.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options, or a rule that writes the
 *   lane header with another value than its lane.
 * @example
 * app.register(laneFastifyEdge({ rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'user-agent', value: 'foo' }] }] }] }));
 */
export function laneFastifyEdge(options: LaneFastifyEdgeOptions): LaneFastifyPlugin {
  if (isFastifyInstance(options)) {
    // biome-ignore lint/complexity/noArguments: `app.register(laneFastifyEdge)` hands the factory (instance, opts, done)
    return pluginNotCalled('laneFastifyEdge', 'app.register(laneFastifyEdge({ rules }))', arguments[2]);
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { rules, trust?, ingress? }');
  }
  assertKnownOptions('laneFastifyEdge()', options, LANE_FASTIFY_EDGE_OPTION_KEYS);
  const rules =
    options.rules instanceof CompiledRules
      ? options.rules
      : compileRules(options.rules, { maxInputLength: options.maxInputLength, random: options.random });
  const trust = compileTrust(options.trust, 'strip');
  const ingress = compileIngress(options.ingress);
  const carriers = compileLaneCarriers(options.ingress);
  const laneHeader = carriers.header;
  checkLaneHeader(rules, laneHeader);
  // The lane is read back from the lane header the edge just wrote (no baggage: it was stripped).
  const enter = compileIngress({ header: laneHeader, baggageKey: false, carry: options.ingress?.carry });

  function laneEdgeOnRequest(
    request: LaneFastifyRequest,
    reply: LaneFastifyReply,
    done: (error?: Error) => void,
  ): void {
    const raw = request.raw;
    const headers = raw.headers as MutableHeaders;
    let lane: Lane | undefined;
    const sent = trust.mode === 'strip' ? undefined : extractLane(headers, RECORD_GETTER, ingress);
    if (sent !== undefined && trust.admits(sent)) {
      lane = sent;
      if (edgeChannels.decision.hasSubscribers)
        publish({ lane, rule: -1, name: undefined, source: 'client', version: STATIC_VERSION });
    } else {
      // Rules never see a client's tag: they decide on the request without it.
      setLaneCarriers(headers, undefined, carriers);
      const decision = rules.decide(raw);
      if (decision !== NO_DECISION) {
        applyHeaders(headers, decision);
        lane = decision.lane;
        if (edgeChannels.decision.hasSubscribers) {
          publish({
            lane,
            rule: decision.rule!,
            name: decision.name,
            source: 'rule',
            version: STATIC_VERSION,
          });
        }
      }
    }
    // Every carrier (lane header, sources, baggage, raw headers, trailers) says `lane` or nothing.
    settleLaneCarriers(raw, lane, carriers);
    runInRequestLane(requestLaneContext(headers, enter), raw, reply.raw, done);
  }

  const plugin: LaneFastifyPlugin = function laneFastifyEdge(instance, _options, done) {
    instance.addHook('onRequest', laneEdgeOnRequest);
    done();
  };
  Object.defineProperty(plugin, SKIP_OVERRIDE, { value: true });
  Object.defineProperty(plugin, DISPLAY_NAME, { value: 'graylane-edge' });
  return plugin;
}

function publish(message: EdgeDecisionMessage): void {
  edgeChannels.decision.publish(message);
}

function applyHeaders(headers: MutableHeaders, decision: EdgeDecision): void {
  const remove = decision.removeHeaders;
  if (remove !== undefined) for (let i = 0; i < remove.length; i++) delete headers[remove[i]!];
  const set = decision.setHeaders;
  if (set !== undefined) for (const name in set) headers[name] = set[name];
  const add = decision.addHeaders;
  if (add === undefined) return;
  for (const name in add) {
    const existing = headers[name];
    headers[name] =
      existing === undefined
        ? add[name]
        : `${Array.isArray(existing) ? existing.join(', ') : String(existing)}, ${add[name]}`;
  }
}

// The lane header always carries the decided lane; a rule that writes it otherwise is a mistake.
function checkLaneHeader(rules: CompiledRules, laneHeader: string): void {
  rules.rules.forEach((rule, i) => {
    for (const field of ['setHeaders', 'addHeaders'] as const) {
      const map = rule[field];
      if (map === undefined) continue;
      for (const name of Object.keys(map)) {
        if (
          name.toLowerCase() === laneHeader &&
          (field === 'addHeaders' || map[name] !== (rule.lane ?? undefined))
        ) {
          throw new InvalidOptionError(
            `rules[${i}].${field}.${name}`,
            `the lane header ${laneHeader} carries the rule's lane; set the rule's lane instead`,
          );
        }
      }
    }
    if (rule.removeHeaders?.some((name) => name.toLowerCase() === laneHeader)) {
      throw new InvalidOptionError(
        `rules[${i}].removeHeaders`,
        `the lane header ${laneHeader} is managed by the edge`,
      );
    }
  });
}
