import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  compileIngress,
  extractLane,
  factoryNotCalled,
  type IngressOptions,
  InvalidOptionError,
  isIncomingRequest,
  type Lane,
  RECORD_GETTER,
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
  isRuleSetProvider,
  isRuleSource,
  LiveRules,
  liveRules,
  NO_DECISION,
  type Rule,
  type RuleSetProvider,
  type RuleSource,
  setLaneCarriers,
  settleLaneCarriers,
  type TrustPolicy,
} from '@graylane/rules';
import { enterRequestLane } from './lane-middleware';
import { observeOutcome, RULE_SET_VERSION } from './rule-set-version';

/** Options of {@link laneEdge}. */
export interface LaneEdgeOptions extends CompileRulesOptions {
  /**
   * The edge rules: a list, in order (see `compileRules` in `@graylane/rules`); an already compiled
   * set; a rule source (`fileRuleSource()`, `etcdRuleSource()`, `kubernetesRuleSource()`), which
   * the edge wraps in `liveRules()`; or a provider whose set changes at run time (`liveRules()`,
   * `releasePlan()`). Each request is decided by the one set it read; `ruleSetVersionOf(req)` says
   * which.
   */
  readonly rules: readonly Rule[] | CompiledRules | RuleSource | RuleSetProvider;
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

/**
 * What {@link laneEdge} returns: the Express middleware, with the rule-set provider it reads and
 * `close()`, which stops the source when the edge made its own `liveRules()` for one.
 *
 * @example
 * const edge: LaneEdgeMiddleware = laneEdge({ rules: fileRuleSource({ path: 'rules.yaml' }) });
 * app.use(edge);
 * process.once('SIGTERM', () => void edge.close());
 */
export interface LaneEdgeMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The rule-set provider this edge reads (the `liveRules()` it made for a source). */
  readonly rules: RuleSetProvider;
  /** Stops the source when the edge made its own `liveRules()` for one; otherwise does nothing. */
  close(): Promise<void>;
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
 * `addHeaders` / `removeHeaders` are applied to `req.headers`. Then every carrier of the lane says
 * the decided lane or nothing (`settleLaneCarriers` from `@graylane/rules`): the lane header
 * (`x-mse-tag`) of `req.headers`, each source alias, the lane entries of `baggage`, `req.rawHeaders`
 * and `req.headersDistinct`, and — removed when the body ends — trailers. So a proxy that re-sends
 * the headers carries exactly the edge's lane, and the request continues exactly as under
 * `laneMiddleware()`: counted at ingress, handler and everything it starts in the lane (the base
 * lane is entered too when a client carrier was dropped, so the OpenTelemetry bridge replaces the
 * baggage extracted from it). Publishes `graylane:edge:decision` when subscribed. Never throws on
 * request input.
 *
 * With live rules (a source, `liveRules()`, `releasePlan()`), each request reads the set in force
 * once and is decided entirely by it; `ruleSetVersionOf(req)` returns its version. Until a source
 * delivers its first good set, every request is in the base lane: `await edge.rules.ready()` (for
 * the `LiveRules` made for a source) before serving if that matters. The returned middleware has
 * `rules` (the provider) and `close()` (stops a source the edge wrapped itself).
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for a bad rule, at setup.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options, or a rule that sets the
 *   lane header to something other than its lane.
 * @example
 * app.use(laneEdge({
 *   rules: rulesFromKruiseTrafficRouting(trafficRouting), // User-Agent: foo -> x-mse-tag: gray
 * }));
 * app.get('/', (req, res) => res.json({ lane: currentLane() }));
 * // Live: rules from a file, reloaded on change; each response tagged with the deciding version.
 * const edge = laneEdge({ rules: fileRuleSource({ path: '/etc/graylane/rules.yaml' }) });
 * app.use(edge);
 * app.get('/v', (req, res) => res.json({ version: ruleSetVersionOf(req) }));
 */
export function laneEdge(options: LaneEdgeOptions): LaneEdgeMiddleware {
  if (isIncomingRequest(options)) {
    // biome-ignore lint/complexity/noArguments: `app.use(laneEdge)` hands the factory (req, res, next)
    const next: unknown = arguments[2];
    // The framework called the factory as the middleware and discards what it returns.
    return factoryNotCalled(
      'laneEdge',
      'app.use(laneEdge({ rules }))',
      next,
    ) as unknown as LaneEdgeMiddleware;
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { rules, trust?, ingress? }');
  }
  assertKnownOptions('laneEdge()', options, LANE_EDGE_OPTION_KEYS);
  const provider = providerOf(options);
  const trust = compileTrust(options.trust, 'strip');
  const ingress = compileIngress(options.ingress);
  const carriers = compileLaneCarriers(options.ingress);
  const laneHeader = carriers.header;
  provider.addCheck((rules) => checkLaneHeader(rules, laneHeader));
  const observes = typeof provider.observe === 'function';
  // Past the edge the lane is read from the lane header alone: every other carrier says the same.
  const enter = compileIngress({ header: laneHeader, baggageKey: false, carry: options.ingress?.carry });
  const stripAll = trust.mode === 'strip';

  const middleware = function laneEdge(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const headers = req.headers as MutableHeaders;
    const set = provider.current; // one read: the whole request is decided by this version
    (req as unknown as Record<symbol, number>)[RULE_SET_VERSION] = set.version;
    let lane: Lane | undefined;
    let kept = false;
    if (!stripAll) {
      const sent = extractLane(headers, RECORD_GETTER, ingress);
      if (sent !== undefined && trust.admits(sent)) {
        lane = sent;
        kept = true;
      }
    }
    let smuggled = false;
    if (kept) {
      if (edgeChannels.decision.hasSubscribers) publish(lane, -1, undefined, 'client', set.version);
    } else {
      // Rules never see a client's tag: they decide on the request without it.
      smuggled = setLaneCarriers(headers, undefined, carriers);
      const decision = set.rules.decide(req);
      if (decision !== NO_DECISION) {
        applyHeaders(headers, decision);
        lane = decision.lane;
        if (edgeChannels.decision.hasSubscribers)
          publish(lane, decision.rule!, decision.name, 'rule', set.version);
      }
    }
    // Every carrier (lane header, sources, baggage, raw headers, trailers) says `lane` or nothing.
    if (settleLaneCarriers(req, lane, carriers)) smuggled = true;
    if (observes) observeOutcome(req, res, provider, lane);
    enterRequestLane(enter, req, res, next, smuggled);
  };
  const owned = provider instanceof LiveRules && provider !== options.rules ? provider : undefined;
  return Object.assign(middleware, {
    /** The rule-set provider this edge reads (the `liveRules()` it made for a source). */
    rules: provider,
    /** Stops the source when the edge made its own `liveRules()` for one; otherwise does nothing. */
    close: (): Promise<void> => (owned === undefined ? Promise.resolve() : owned.close()),
  });
}

function providerOf(options: LaneEdgeOptions): RuleSetProvider {
  const rules = options.rules;
  if (isRuleSetProvider(rules)) return rules;
  if (isRuleSource(rules)) {
    return liveRules({ source: rules, maxInputLength: options.maxInputLength, random: options.random });
  }
  const compiled = isCompiled(rules)
    ? rules
    : compileRules(rules as readonly Rule[], {
        maxInputLength: options.maxInputLength,
        random: options.random,
      });
  const current = Object.freeze({
    version: 1,
    rules: compiled,
    source: 'static',
    revision: undefined,
    loadedAt: Date.now(),
  });
  return {
    current,
    addCheck(check) {
      check(compiled);
    },
  };
}

// Duck-typed: a rule set compiled by another installed copy of @graylane/rules works too.
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
  version: number,
): void {
  const message: EdgeDecisionMessage = { lane, rule, name, source, version };
  edgeChannels.decision.publish(message);
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
