// An Istio VirtualService as graylane edge rules: `version: 100` -> subset v1, `version: 200` ->
// subset v2, everything else 10/90. The DestinationRule's subset labels say which lane each subset
// is. Run: npx tsx examples/istio-version/index.ts
import {
  compileRules,
  type EdgeRequest,
  rulesFromIstioVirtualService,
  subsetLanesFromDestinationRule,
} from '@graylane/rules';
import { parseAllDocuments } from 'yaml';

export const ISTIO_CONFIG = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
    - name: v1
      labels: { version: v1 }
    - name: v2
      labels: { version: v2, alicloud.service.tag: gray }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
    - match:
        - headers:
            version: { exact: "100" }
      route:
        - destination: { host: reviews, subset: v1 }
    - match:
        - headers:
            version: { exact: "200" }
      route:
        - destination: { host: reviews, subset: v2 }
    - route:
        - destination: { host: reviews, subset: v1 }
          weight: 10
        - destination: { host: reviews, subset: v2 }
          weight: 90
`;

/** Per kind of request: how many of `requests` went to each lane (`base` for v1). */
export interface IstioCounts {
  readonly request: string;
  readonly requests: number;
  readonly base: number;
  readonly gray: number;
}

/** Imports the config and sends `requests` requests of each kind through the rules. */
export function runIstioVersion(options: { requests?: number; random?: () => number } = {}): {
  subsetLanes: Record<string, string | null>;
  counts: IstioCounts[];
} {
  const requests = options.requests ?? 10_000;
  const [destinationRule, virtualService] = parseAllDocuments(ISTIO_CONFIG).map(
    (doc) => doc.toJS() as Record<string, unknown>,
  );
  const subsetLanes = subsetLanesFromDestinationRule(destinationRule!); // { v1: null, v2: 'gray' }
  const rules = compileRules(rulesFromIstioVirtualService(virtualService!, { subsetLanes }), {
    random: options.random ?? Math.random,
  });
  const counts = [
    ['version: 100', { version: '100' }],
    ['version: 200', { version: '200' }],
    ['no version header', {}],
  ].map(([label, headers]) => {
    const request: EdgeRequest = {
      method: 'GET',
      path: '/reviews/1',
      headers: headers as Record<string, string>,
    };
    let gray = 0;
    for (let i = 0; i < requests; i++) if (rules.decide(request).lane === 'gray') gray++;
    return { request: label as string, requests, base: requests - gray, gray };
  });
  return { subsetLanes, counts };
}

if (require.main === module) {
  const { subsetLanes, counts } = runIstioVersion();
  console.log('subset lanes from the DestinationRule:', subsetLanes);
  for (const c of counts) {
    console.log(
      `${c.request.padEnd(18)} -> v1 (base) ${c.base}/${c.requests}   v2 (gray) ${c.gray}/${c.requests}`,
    );
  }
}
