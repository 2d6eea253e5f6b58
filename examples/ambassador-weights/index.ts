// Ambassador Mappings as graylane edge rules: 80/20 between two Mappings of /app/, plus a Mapping
// that sends `Cookie: UM_distinctid=12345` to the new service; then the switch (header Mapping
// removed -> 50/50; old Mapping deleted -> 100% new). Run: npx tsx examples/ambassador-weights/index.ts
import { compileRules, type EdgeRequest, rulesFromAmbassadorMappings } from '@graylane/rules';
import { parseAllDocuments } from 'yaml';

const OLD = `
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: app }
spec: { hostname: "*", prefix: /app/, service: app }
`;
const NEW = (weight: number) => `
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: app-v2 }
spec: { hostname: "*", prefix: /app/, service: app-v2, weight: ${weight} }
`;
const BY_COOKIE = `
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: app-v2-cookie }
spec:
  hostname: "*"
  prefix: /app/
  service: app-v2
  headers:
    Cookie: UM_distinctid=12345
`;

/** The three stages of the rollout, as the YAML an operator applies at each one. */
export const STAGES: ReadonlyArray<readonly [stage: string, yaml: string]> = [
  ['80/20 + Cookie header mapping', [OLD, NEW(20), BY_COOKIE].join('---')],
  ['header mapping removed, 50/50', [OLD, NEW(50)].join('---')],
  ['old mapping deleted', NEW(50)],
];

/** The service app-v2 serves the gray lane; app is stable (base). */
export const LANE_OF_SERVICE = { 'app-v2': 'gray' } as const;

export interface AmbassadorStage {
  readonly stage: string;
  readonly requests: number;
  /** Requests with `Cookie: UM_distinctid=12345` that reached app-v2. */
  readonly withCookie: number;
  /** Requests without it that reached app-v2. */
  readonly withoutCookie: number;
}

/** Runs each stage: imports its Mappings and counts who reaches app-v2. */
export function runAmbassadorWeights(
  options: { requests?: number; random?: () => number } = {},
): AmbassadorStage[] {
  const requests = options.requests ?? 10_000;
  return STAGES.map(([stage, yaml]) => {
    const mappings = parseAllDocuments(yaml).map((doc) => doc.toJS() as Record<string, unknown>);
    const rules = compileRules(rulesFromAmbassadorMappings(mappings, { laneOf: LANE_OF_SERVICE }), {
      random: options.random ?? Math.random,
    });
    const count = (headers: Record<string, string>) => {
      const request: EdgeRequest = { method: 'GET', path: '/app/items', headers };
      let n = 0;
      for (let i = 0; i < requests; i++) if (rules.decide(request).lane === 'gray') n++;
      return n;
    };
    return {
      stage,
      requests,
      withCookie: count({ cookie: 'UM_distinctid=12345' }),
      withoutCookie: count({}),
    };
  });
}

if (require.main === module) {
  for (const s of runAmbassadorWeights()) {
    console.log(
      `${s.stage.padEnd(32)} to app-v2: with cookie ${s.withCookie}/${s.requests}   without ${s.withoutCookie}/${s.requests}`,
    );
  }
}
