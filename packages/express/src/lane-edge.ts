import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertKnownOptions, factoryNotCalled, InvalidOptionError, isIncomingRequest } from '@graylane/core';
import { compileEdge, type EdgeOptions, observeEdgeOutcome, type RuleSetProvider } from '@graylane/rules';

/**
 * Options of {@link laneEdge}: `rules`, `trust`, `ingress` and the rule-compile options, as
 * `compileEdge()` of `@graylane/rules` takes them (see `EdgeOptions` there).
 */
export interface LaneEdgeOptions extends EdgeOptions {}

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
  const edge = compileEdge(options);

  const middleware = function laneEdge(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const settled = edge.settle(req);
    observeEdgeOutcome(res, edge.rules, settled.lane);
    edge.runInLane(settled, req, res, next);
  };
  return Object.assign(middleware, {
    /** The rule-set provider this edge reads (the `liveRules()` it made for a source). */
    rules: edge.rules,
    /** Stops the source when the edge made its own `liveRules()` for one; otherwise does nothing. */
    close: (): Promise<void> => edge.close(),
  });
}
