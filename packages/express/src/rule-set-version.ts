import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuleSetProvider } from '@graylane/rules';

/** @internal Where `laneEdge()` notes the version of the rule set that decided a request. */
export const RULE_SET_VERSION = Symbol.for('graylane.edge.ruleSetVersion');
const OUTCOME = Symbol.for('graylane.edge.outcome');

/**
 * The version of the rule set that decided this request at `laneEdge()` (`RuleSet.version`:
 * 1, 2, ... per provider), or `undefined` for a request that did not pass an edge. Tag responses or
 * logs with it to see which reload decided what.
 *
 * @example
 * app.use(laneEdge({ rules: liveRules({ source }) }));
 * app.get('/', (req, res) => res.set('x-rules-version', String(ruleSetVersionOf(req))).end());
 */
export function ruleSetVersionOf(req: IncomingMessage): number | undefined {
  const version = (req as unknown as Record<symbol, unknown>)[RULE_SET_VERSION];
  return typeof version === 'number' ? version : undefined;
}

class Outcome {
  constructor(
    readonly provider: RuleSetProvider,
    readonly lane: string | undefined,
    readonly start: number,
  ) {}
}

/** @internal Reports the request's status and duration to `provider.observe` when the response finishes. */
export function observeOutcome(
  req: IncomingMessage,
  res: ServerResponse,
  provider: RuleSetProvider,
  lane: string | undefined,
): void {
  (req as unknown as Record<symbol, Outcome>)[OUTCOME] = new Outcome(provider, lane, performance.now());
  res.once('finish', recordOutcome);
}

function recordOutcome(this: ServerResponse): void {
  const outcome = (this.req as unknown as Record<symbol, Outcome | undefined>)[OUTCOME];
  if (outcome === undefined) return;
  try {
    outcome.provider.observe?.(outcome.lane, this.statusCode, performance.now() - outcome.start);
  } catch {
    // An observer must never break a response.
  }
}
