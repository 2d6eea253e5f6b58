// What the full-chain demo runs, in one place: the services and their instances, the edge rules
// and trust policy, and — computed from those same rules and instances — the walk each request
// is expected to take. The launcher, the demo and the tests all read this file.
import { parseLane } from '@graylane/core';
import {
  compileRules,
  compileTrust,
  type Rule,
  rulesFromKruiseTrafficRouting,
  type TrustPolicy,
} from '@graylane/rules';
import { parse } from 'yaml';

/** The chain, in call order after the edge. */
export const SERVICES = ['svc-a', 'svc-b', 'svc-c'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** One process of the demo. */
export interface ProcessSpec {
  /** Instance id, also the process name (`edge`, `a-gray`, ...). */
  readonly id: string;
  /** The service it is an instance of; `null` for the edge (not registered). */
  readonly service: ServiceName | null;
  /** The lane it serves; `null` = base (stable). */
  readonly lane: string | null;
  /** The entry file under examples/full-chain. */
  readonly script: string;
  /** The service it calls, if any. */
  readonly calls: ServiceName | null;
}

/**
 * a-stable, a-gray, b-stable, c-stable, c-gray: svc-b has no gray instance, so a gray request
 * walks a-gray -> b-stable (fallback) -> c-gray.
 */
export const PROCESSES: readonly ProcessSpec[] = [
  { id: 'edge', service: null, lane: null, script: 'edge.ts', calls: 'svc-a' },
  { id: 'a-stable', service: 'svc-a', lane: null, script: 'svc-a.ts', calls: 'svc-b' },
  { id: 'a-gray', service: 'svc-a', lane: 'gray', script: 'svc-a.ts', calls: 'svc-b' },
  { id: 'b-stable', service: 'svc-b', lane: null, script: 'svc-b.ts', calls: 'svc-c' },
  { id: 'c-stable', service: 'svc-c', lane: null, script: 'svc-c.ts', calls: null },
  { id: 'c-gray', service: 'svc-c', lane: 'gray', script: 'svc-c.ts', calls: null },
];

/**
 * The OpenKruise full-link gray `TrafficRouting` (the seed scenario): `User-Agent: foo` enters
 * lane gray, with `x-mse-tag: gray` set on the request.
 */
export const TRAFFIC_ROUTING = `
apiVersion: rollouts.kruise.io/v1alpha1
kind: TrafficRouting
metadata:
  name: mse-traffic
spec:
  objectRef:
    - service: svc-a
      ingress:
        name: svc-a
  strategy:
    matches:
      - headers:
          - type: Exact
            name: User-Agent
            value: foo
    requestHeaderModifier:
      set:
        - name: x-mse-tag
          value: gray
`;

/** Share of users (by `x-user-id`) the weighted rule sends to gray. */
export const GRAY_USER_PERCENT = 30;

/**
 * The edge rules, in order: the Kruise rule, then 30% of users, sticky on `x-user-id` (a request
 * without that header never reaches the draw, so untagged traffic stays deterministic).
 */
export const EDGE_RULES: readonly Rule[] = [
  ...rulesFromKruiseTrafficRouting(parse(TRAFFIC_ROUTING)),
  {
    name: `users ${GRAY_USER_PERCENT}%`,
    lane: 'gray',
    matches: [{ headers: [{ name: 'x-user-id', type: 'Present' }] }],
    weight: GRAY_USER_PERCENT,
    sticky: { header: 'x-user-id' },
  },
];

/**
 * Trust policy at the edge: a client's own `x-mse-tag: gray` is kept (how testers and operators
 * send a request into the release under test), every other tag is stripped, so no outside client
 * walks into any other (unreleased) lane. See the README for the trade-off.
 */
export const EDGE_TRUST: TrustPolicy = { allowlist: ['gray'] };

/** The lane the edge gives a request with these headers, from the same rules and trust policy. */
export function expectedLane(headers: Readonly<Record<string, string>>): string | null {
  const trust = compileTrust(EDGE_TRUST, 'strip');
  const sent = parseLane(headers['x-mse-tag']);
  if (sent !== undefined && trust.admits(sent)) return sent;
  const lower: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'x-mse-tag') lower[name.toLowerCase()] = value;
  }
  return compileRules(EDGE_RULES).decide({ headers: lower }).lane ?? null;
}

/** The instance of each service a request in `lane` must reach: that lane's instance, else stable. */
export function expectedWalk(lane: string | null): string[] {
  return SERVICES.map((service) => {
    const own = PROCESSES.find((p) => p.service === service && lane !== null && p.lane === lane);
    return (own ?? PROCESSES.find((p) => p.service === service && p.lane === null)!).id;
  });
}
