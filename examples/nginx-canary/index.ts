// ingress-nginx canary annotations as graylane edge rules: `foo: bar` and weight 30, then the full
// switch (weight 100). Run: npx tsx examples/nginx-canary/index.ts
import { compileRules, type EdgeRequest, rulesFromNginxCanary } from '@graylane/rules';
import { parse } from 'yaml';

/** The canary Ingress of the scenario, as users keep it in their repository. */
export const CANARY_INGRESS = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: demo-canary
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-by-header: "foo"
    nginx.ingress.kubernetes.io/canary-by-header-value: "bar"
    nginx.ingress.kubernetes.io/canary-weight: "30"
spec:
  ingressClassName: nginx
  rules:
    - host: demo.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: { name: demo-canary, port: { number: 80 } }
`;

/** The full switch: same Ingress, weight 100. */
export const SWITCHED_INGRESS = CANARY_INGRESS.replace('canary-weight: "30"', 'canary-weight: "100"');

/** How many of `requests` requests of each kind entered the canary lane. */
export interface NginxStep {
  readonly step: string;
  readonly requests: number;
  /** Requests with `foo: bar`. */
  readonly withFooBar: number;
  /** Requests with `foo: other` (falls through to the weight). */
  readonly withOtherFoo: number;
  /** Requests without the header. */
  readonly withoutHeader: number;
}

function countCanary(yamlText: string, step: string, requests: number, random: () => number): NginxStep {
  const ingress = parse(yamlText) as Record<string, unknown>;
  const rules = compileRules(rulesFromNginxCanary(ingress, { lane: 'canary' }), { random });
  const count = (headers: Record<string, string>) => {
    let n = 0;
    const request: EdgeRequest = { method: 'GET', path: '/', headers };
    for (let i = 0; i < requests; i++) if (rules.decide(request).lane === 'canary') n++;
    return n;
  };
  return {
    step,
    requests,
    withFooBar: count({ foo: 'bar' }),
    withOtherFoo: count({ foo: 'baz' }),
    withoutHeader: count({}),
  };
}

/** Runs both steps of the scenario. */
export function runNginxCanary(options: { requests?: number; random?: () => number } = {}): NginxStep[] {
  const requests = options.requests ?? 10_000;
  const random = options.random ?? Math.random;
  return [
    countCanary(CANARY_INGRESS, 'foo: bar + weight 30', requests, random),
    countCanary(SWITCHED_INGRESS, 'full switch: weight 100', requests, random),
  ];
}

if (require.main === module) {
  for (const s of runNginxCanary()) {
    console.log(
      `${s.step.padEnd(26)} foo: bar -> ${s.withFooBar}/${s.requests}   foo: baz -> ${s.withOtherFoo}/${s.requests}   no header -> ${s.withoutHeader}/${s.requests}`,
    );
  }
}
