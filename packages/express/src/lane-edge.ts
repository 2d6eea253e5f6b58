import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  CompiledRules,
  type CompileRulesOptions,
  channels,
  compileIngress,
  compileRules,
  compileTrust,
  type EdgeDecision,
  type EdgeDecisionMessage,
  extractLane,
  factoryNotCalled,
  type IngressOptions,
  InvalidOptionError,
  isIncomingRequest,
  LANE_HEADER,
  type Lane,
  NO_DECISION,
  RECORD_GETTER,
  type Rule,
  stripLaneTags,
  type TrustPolicy,
} from '@graylane/core';
import { laneMiddleware } from './lane-middleware';

/** Options of {@link laneEdge}. */
export interface LaneEdgeOptions extends CompileRulesOptions {
  /** The edge rules, in order (see `compileRules` in `@graylane/core`), or an already compiled set. */
  readonly rules: readonly Rule[] | CompiledRules;
  /**
   * What to do with a lane tag the client sent: `'strip'` (default: only rules assign lanes),
   * `'accept'`, or `{ allowlist: [lanes] }`. A kept tag wins over the rules (the request is
   * already in a lane); a tag that is not kept is removed from `req.headers`.
   */
  readonly trust?: TrustPolicy | undefined;
  /**
   * Where a client's tag is read from and stripped (`header`, `sources`, `baggageKey`), and which
   * headers to `carry` downstream. `header` (default `x-mse-tag`) is also where the decided lane is
   * written. Default: `x-mse-tag`, then the `x-mse-tag` baggage entry.
   */
  readonly ingress?: IngressOptions | undefined;
}

const LANE_EDGE_OPTION_KEYS: readonly string[] = Object.keys({
  rules: 1,
  trust: 1,
  ingress: 1,
  maxInputLength: 1,
  random: 1,
} satisfies Record<keyof LaneEdgeOptions, 1>);

type Next = (err?: unknown) => void;
type MutableHeaders = Record<string, string | string[] | number | undefined>;

/**
 * Express middleware (4 and 5) for the edge (gateway, BFF): assigns each request its lane by
 * rules, then runs the rest of the request in that lane.
 *
 * Per request: a client-sent tag kept by `trust` settles the lane; otherwise client tags are
 * stripped from `req.headers` and the rules decide, and the winning rule's `setHeaders` /
 * `addHeaders` / `removeHeaders` are applied to `req.headers`. The lane is written to the lane
 * header (`x-mse-tag`) of `req.headers`, so a proxy that re-sends the headers carries it, and the
 * request continues exactly as under `laneMiddleware()`: counted at ingress, handler and everything
 * it starts in the lane. Publishes `graylane:edge:decision` when subscribed. Never throws on request
 * input.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for a bad rule, at setup.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options, or a rule that sets the
 *   lane header to something other than its lane.
 * @example
 * app.use(laneEdge({
 *   rules: rulesFromKruiseTrafficRouting(trafficRouting), // User-Agent: foo -> x-mse-tag: gray
 * }));
 * app.get('/', (req, res) => res.json({ lane: currentLane() }));
 */
export function laneEdge(
  options: LaneEdgeOptions,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  if (isIncomingRequest(options)) {
    // biome-ignore lint/complexity/noArguments: `app.use(laneEdge)` hands the factory (req, res, next)
    const next: unknown = arguments[2];
    return factoryNotCalled('laneEdge', 'app.use(laneEdge({ rules }))', next);
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { rules, trust?, ingress? }');
  }
  assertKnownOptions('laneEdge()', options, LANE_EDGE_OPTION_KEYS);
  const rules = isCompiled(options.rules) ? options.rules : compileRules(options.rules, options);
  const trust = compileTrust(options.trust, 'strip');
  const ingress = compileIngress(options.ingress);
  const laneHeader = (options.ingress?.header ?? LANE_HEADER).toLowerCase();
  checkLaneHeader(rules, laneHeader);
  const enter = laneMiddleware({ header: laneHeader, baggageKey: false, carry: options.ingress?.carry });
  const stripAll = trust.mode === 'strip';

  return function laneEdge(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const headers = req.headers as MutableHeaders;
    let lane: Lane | undefined;
    let kept = false;
    if (!stripAll) {
      const sent = extractLane(headers, RECORD_GETTER, ingress);
      if (sent !== undefined && trust.admits(sent)) {
        lane = sent;
        kept = true;
      }
    }
    if (kept) {
      if (channels.edgeDecision.hasSubscribers) publish(lane, -1, undefined, 'client');
    } else {
      stripLaneTags(headers, ingress);
      const decision = rules.decide(req);
      if (decision !== NO_DECISION) {
        applyHeaders(headers, decision);
        lane = decision.lane;
        if (channels.edgeDecision.hasSubscribers) publish(lane, decision.rule!, decision.name, 'rule');
      }
    }
    if (lane !== undefined) headers[laneHeader] = lane;
    else if (headers[laneHeader] !== undefined) delete headers[laneHeader];
    enter(req, res, next);
  };
}

// Duck-typed: a rule set compiled by another installed copy of @graylane/core works too.
function isCompiled(rules: LaneEdgeOptions['rules']): rules is CompiledRules {
  if (rules instanceof CompiledRules) return true;
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) return false;
  const candidate = rules as unknown as { decide?: unknown; rules?: unknown };
  return typeof candidate.decide === 'function' && Array.isArray(candidate.rules);
}

function applyHeaders(headers: MutableHeaders, decision: EdgeDecision): void {
  const remove = decision.removeHeaders;
  if (remove !== undefined) for (let i = 0; i < remove.length; i++) delete headers[remove[i]!];
  const set = decision.setHeaders;
  if (set !== undefined) for (const name in set) headers[name] = set[name];
  const add = decision.addHeaders;
  if (add !== undefined) {
    for (const name in add) {
      const existing = headers[name];
      headers[name] =
        existing === undefined
          ? add[name]
          : `${Array.isArray(existing) ? existing.join(', ') : String(existing)}, ${add[name]}`;
    }
  }
}

function publish(
  lane: Lane | undefined,
  rule: number,
  name: string | undefined,
  source: 'rule' | 'client',
): void {
  const message: EdgeDecisionMessage = { lane, rule, name, source };
  channels.edgeDecision.publish(message);
}

// The lane header always carries the decided lane; a rule that writes it otherwise is a mistake.
function checkLaneHeader(rules: CompiledRules, laneHeader: string): void {
  rules.rules.forEach((rule, i) => {
    const lane = rule.lane ?? undefined;
    for (const field of ['setHeaders', 'addHeaders'] as const) {
      const map = rule[field];
      if (map === undefined) continue;
      for (const name of Object.keys(map)) {
        if (name.toLowerCase() !== laneHeader) continue;
        if (field === 'addHeaders' || map[name] !== lane) {
          throw new InvalidOptionError(
            `rules[${i}].${field}.${name}`,
            `the lane header ${laneHeader} carries the rule's lane (${JSON.stringify(lane ?? null)}); set the rule's lane instead`,
          );
        }
      }
    }
    if (rule.removeHeaders?.some((name) => name.toLowerCase() === laneHeader)) {
      throw new InvalidOptionError(
        `rules[${i}].removeHeaders`,
        `the lane header ${laneHeader} is managed by laneEdge`,
      );
    }
  });
}
