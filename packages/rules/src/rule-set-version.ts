import type { IncomingMessage } from 'node:http';

// Where an edge notes the version of the rule set that decided a request (Symbol.for: two
// installed copies agree).
const RULE_SET_VERSION = Symbol.for('graylane.edge.ruleSetVersion');

/** @internal Notes on `req` the version of the rule set that decided it (read by {@link ruleSetVersionOf}). */
export function noteRuleSetVersion(req: IncomingMessage, version: number): void {
  (req as unknown as Record<symbol, number>)[RULE_SET_VERSION] = version;
}

/**
 * The version of the rule set that decided this request at an edge (`RuleSet.version`: 1, 2, ...
 * per provider), or `undefined` for a request that did not pass one. Tag responses or logs with it
 * to see which reload decided what. Takes the Node request (Fastify: `request.raw`).
 *
 * @example
 * app.use(laneEdge({ rules: liveRules({ source }) }));
 * app.get('/', (req, res) => res.set('x-rules-version', String(ruleSetVersionOf(req))).end());
 */
export function ruleSetVersionOf(req: IncomingMessage): number | undefined {
  const version = (req as unknown as Record<symbol, unknown>)[RULE_SET_VERSION];
  return typeof version === 'number' ? version : undefined;
}
