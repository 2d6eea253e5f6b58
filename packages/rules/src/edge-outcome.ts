import type { ServerResponse } from 'node:http';
import type { Lane } from '@graylane/core';
import type { RuleSetProvider } from './rule-set';

const OUTCOME = Symbol.for('graylane.edge.outcome');

class Outcome {
  constructor(
    readonly provider: RuleSetProvider,
    readonly lane: Lane | undefined,
    readonly start: number,
  ) {}
}

/**
 * Reports the request's status and duration to `provider.observe` (a `releasePlan()` analysing
 * its lanes) when the response finishes. Does nothing, and allocates nothing, for a provider
 * without `observe`. An observer that throws never breaks the response.
 *
 * @param res the Node response (Express `res`, Fastify `reply.raw`).
 * @param provider the edge's provider (`edge.rules`).
 * @param lane the lane the edge settled (`settled.lane`; undefined: base).
 * @example
 * const settled = edge.settle(req);
 * observeEdgeOutcome(res, edge.rules, settled.lane);
 */
export function observeEdgeOutcome(
  res: ServerResponse,
  provider: RuleSetProvider,
  lane: Lane | undefined,
): void {
  if (typeof provider.observe !== 'function') return;
  (res as unknown as Record<symbol, Outcome>)[OUTCOME] = new Outcome(provider, lane, performance.now());
  res.once('finish', recordOutcome);
}

function recordOutcome(this: ServerResponse): void {
  const outcome = (this as unknown as Record<symbol, Outcome | undefined>)[OUTCOME];
  if (outcome === undefined) return;
  try {
    outcome.provider.observe?.(outcome.lane, this.statusCode, performance.now() - outcome.start);
  } catch {
    // An observer must never break a response.
  }
}
