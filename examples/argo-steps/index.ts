// The Argo Rollouts + Ambassador canary walk at a graylane edge: echo-stable and echo-canary
// behind one edge; a release plan walks setWeight 20 -> pause (until promoted) -> 40 -> 60 -> 80
// -> 100, timed pauses between; an operator promotes past the indefinite pause through the admin
// endpoint; steady traffic from sticky users runs throughout and the observed split is printed at
// each step. Run: npx tsc -b && npx tsx examples/argo-steps/index.ts [--pause 2s]

import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLane } from '@graylane/core';
import { laneEdge, planAdminRouter, ruleSetVersionOf } from '@graylane/express';
import {
  liveChannels,
  type PlanStep,
  type PlanStepMessage,
  type PlanStore,
  releasePlan,
} from '@graylane/rules';
import express from 'express';
import { Pool } from 'undici';

/** The Rollout's steps, as in Argo's canary example (pause durations shortened for a demo). */
export function argoSteps(pause: string): PlanStep[] {
  return [
    { setWeight: 20 },
    { pause: {} },
    { setWeight: 40 },
    { pause: { duration: pause } },
    { setWeight: 60 },
    { pause: { duration: pause } },
    { setWeight: 80 },
    { pause: { duration: pause } },
    { setWeight: 100 },
  ];
}

/**
 * What the edge's traffic looked like while the plan stood at one weight: the requests decided by
 * that weight's rule-set version (each response carries it), whatever round they were sent in.
 */
export interface ObservedStep {
  readonly weight: number;
  readonly phase: string;
  readonly requests: number;
  readonly canary: number;
  /** Requests of users served by echo-canary at an earlier weight that went to echo-stable (must be 0). */
  readonly movedOut: number;
}

export interface ArgoStepsOptions {
  /** Duration of each timed pause. Default `2s`. */
  readonly pause?: string;
  /** Distinct sticky users; each sends one request per round, rounds back to back. Default 500. */
  readonly users?: number;
  /** Where the plan's position lives. Default: in memory (one edge). */
  readonly store?: PlanStore;
  readonly log?: (line: string) => void;
}

async function serve(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Runs the walk and returns the split observed at each weight. */
export async function runArgoSteps(options: ArgoStepsOptions = {}): Promise<ObservedStep[]> {
  const log = options.log ?? (() => {});
  const users = options.users ?? 500;
  const token = 'argo-steps-demo-admin-token';
  const servers: Server[] = [];
  const echo = (name: string) => createServer((_, res) => res.end(name));
  servers.push(echo('echo-stable'), echo('echo-canary'));
  const [stablePort, canaryPort] = await Promise.all(servers.map(serve));
  const upstream = {
    stable: new Pool(`http://127.0.0.1:${stablePort}`),
    canary: new Pool(`http://127.0.0.1:${canaryPort}`),
  };

  const plan = releasePlan({
    name: 'echo',
    lane: 'canary',
    sticky: { header: 'x-user' },
    steps: argoSteps(options.pause ?? '2s'),
    store: options.store,
  });
  const app = express();
  app.use('/admin', planAdminRouter({ plans: plan, token }));
  app.use(laneEdge({ rules: plan }));
  app.get('/', async (req, res) => {
    // The edge proxies to the echo service of the request's lane (a real gateway would).
    const target = currentLane() === 'canary' ? upstream.canary : upstream.stable;
    const answer = await target.request({ method: 'GET', path: '/' });
    res.set('x-rules-version', String(ruleSetVersionOf(req)));
    res.end(await answer.body.text());
  });
  const edge = createServer(app);
  servers.push(edge);
  const client = new Pool(`http://127.0.0.1:${await serve(edge)}`, { connections: 16 });
  await plan.ready();

  const observed: ObservedStep[] = [];
  // Which weight each rule-set version stands for, from the plan's own channel.
  const weightOf = new Map<number, { weight: number; phase: string }>([
    [plan.current.version, { weight: plan.status().weight, phase: plan.status().phase }],
  ]);
  const onStep = (m: unknown) => {
    const { version, weight, phase } = m as PlanStepMessage;
    weightOf.set(version, { weight, phase });
  };
  diagnosticsChannel.subscribe(liveChannels.planStep.name, onStep);
  // version -> [requests, canary]; user -> first version it reached the canary in.
  const tally = new Map<number, { requests: number; canary: number; movedOut: number }>();
  const canarySince = new Map<number, number>();
  const round = async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < users) {
          const user = next++;
          const res = await client.request({
            method: 'GET',
            path: '/',
            headers: { 'x-user': `user-${user}` },
          });
          const version = Number(res.headers['x-rules-version']);
          const canary = (await res.body.text()) === 'echo-canary';
          let t = tally.get(version);
          if (t === undefined) {
            t = { requests: 0, canary: 0, movedOut: 0 };
            tally.set(version, t);
          }
          t.requests++;
          const since = canarySince.get(user);
          if (canary) {
            t.canary++;
            if (since === undefined || version < since) canarySince.set(user, version);
          } else if (since !== undefined && since < version) {
            t.movedOut++;
          }
        }
      }),
    );
  };
  try {
    while (true) {
      await round();
      const status = plan.status();
      if (status.phase === 'Completed' && (tally.get(status.version)?.requests ?? 0) >= users) break;
      if (status.phase === 'Aborted') break;
      if (
        status.phase === 'Paused' &&
        status.currentStep === 'pause: until promoted' &&
        (tally.get(status.version)?.requests ?? 0) >= users
      ) {
        log('paused until promoted: POST /admin/echo/promote');
        const res = await client.request({
          method: 'POST',
          path: '/admin/echo/promote',
          headers: { authorization: `Bearer ${token}` },
        });
        await res.body.dump();
      }
    }
    for (const [version, t] of [...tally].sort((a, b) => a[0] - b[0])) {
      const at = weightOf.get(version);
      if (at === undefined || t.requests === 0) continue;
      const last = observed.at(-1);
      if (last !== undefined && last.weight === at.weight) continue;
      observed.push({
        weight: at.weight,
        phase: at.phase,
        requests: t.requests,
        canary: t.canary,
        movedOut: t.movedOut,
      });
      log(
        `setWeight ${String(at.weight).padStart(3)}  echo-canary ${String(t.canary).padStart(5)}/${String(t.requests).padEnd(5)} (${((t.canary / t.requests) * 100).toFixed(1).padStart(5)}%)  moved out: ${t.movedOut}`,
      );
    }
  } finally {
    diagnosticsChannel.unsubscribe(liveChannels.planStep.name, onStep);
    await plan.close();
    await Promise.all([client.close(), upstream.stable.close(), upstream.canary.close()]);
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  }
  return observed;
}

if (require.main === module) {
  const i = process.argv.indexOf('--pause');
  const pause = i === -1 ? '2s' : process.argv[i + 1];
  runArgoSteps({ pause, log: (line) => console.log(line) }).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
