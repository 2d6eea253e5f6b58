import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  InvalidPlanError,
  liveChannels,
  memoryPlanStore,
  type PlanAbortMessage,
  PlanStoreError,
  type ReleasePlan,
  releasePlan,
} from '@graylane/rules';
import { assertTypedError } from '../../../test/helpers/typed-error';

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function laneOf(plan: ReleasePlan, headers: Record<string, string>): string | undefined {
  return plan.current.rules.decide({ headers }).lane;
}

test('steps are validated at setup with the field named', () => {
  const base = { name: 'p', lane: 'gray' };
  assertTypedError(() => releasePlan({ ...base, steps: [] }), InvalidPlanError, {
    code: 'GL_ERR_INVALID_PLAN',
    path: 'steps',
  });
  assertTypedError(() => releasePlan({ ...base, steps: [{ setWeight: 120 }] }), InvalidPlanError, {
    code: 'GL_ERR_INVALID_PLAN',
    path: 'steps[0].setWeight',
  });
  assertTypedError(
    () => releasePlan({ ...base, steps: [{ setWeight: 10 }, { pause: { duration: '3 days' } }] }),
    InvalidPlanError,
    { code: 'GL_ERR_INVALID_PLAN', path: 'steps[1].pause.duration' },
  );
  assertTypedError(
    () => releasePlan({ ...base, steps: [{ setWeight: 1 }], analysis: { maxErrorRatio: 2 } }),
    InvalidPlanError,
    { code: 'GL_ERR_INVALID_PLAN', path: 'analysis.maxErrorRatio' },
  );
  assertTypedError(
    () =>
      releasePlan({
        ...base,
        steps: [{ setHeaderRoute: { name: 'r', match: [{ headerName: 'a', headerValue: {} }] } }],
      }),
    InvalidPlanError,
    { code: 'GL_ERR_INVALID_PLAN', path: 'steps[0].setHeaderRoute.match[0].headerValue' },
  );
});

test('walks setWeight / timed pause / pause until promoted / header route; promote, pause, resume, abort, retry', async (t) => {
  const plan = releasePlan({
    name: 'walk',
    lane: 'gray',
    sticky: { header: 'x-user' },
    rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'x-qa', type: 'Present' }] }] }],
    steps: [
      {
        setHeaderRoute: {
          name: 'testers',
          match: [{ headerName: 'x-tester', headerValue: { exact: 'yes' } }],
        },
      },
      { setWeight: 20 },
      { pause: { duration: '150ms' } },
      { setWeight: 50 },
      { pause: {} },
      { setHeaderRoute: { name: 'testers' } },
      { setWeight: 80 },
      { pause: {} },
    ],
    tickIntervalMs: 10,
  });
  t.after(() => plan.close());
  await plan.ready();
  await until(
    'the timed pause to end',
    () => plan.status().weight === 50 && plan.status().phase === 'Paused',
  );
  assert.equal(plan.status().currentStep, 'pause: until promoted');
  assert.equal(laneOf(plan, { 'x-tester': 'yes', 'x-user': 'nobody-in-50' }), 'gray');
  const versionAt50 = plan.current.version;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(plan.current.version, versionAt50, 'an indefinite pause waits');

  await plan.pause();
  await plan.promote(); // promote also ends a manual pause
  await until('80% and paused', () => plan.status().weight === 80 && plan.status().phase === 'Paused');
  assert.deepEqual(plan.status().headerRoutes, [], 'the route was removed');

  const aborts: PlanAbortMessage[] = [];
  const onAbort = (m: unknown) => aborts.push(m as PlanAbortMessage);
  diagnosticsChannel.subscribe(liveChannels.planAbort.name, onAbort);
  t.after(() => diagnosticsChannel.unsubscribe(liveChannels.planAbort.name, onAbort));
  const status = await plan.abort('bad smell');
  assert.equal(status.phase, 'Aborted');
  assert.equal(status.weight, 0);
  assert.equal(laneOf(plan, { 'x-qa': '1', 'x-user': 'u' }), undefined, 'rules into the lane are off too');
  await assert.rejects(plan.promote(), PlanStoreError);
  assert.deepEqual(aborts, [{ plan: 'walk', step: 7, reason: 'bad smell' }]);

  await plan.retry();
  await until('the retried walk', () => plan.status().weight === 50);
  assert.equal(laneOf(plan, { 'x-qa': '1' }), 'gray');
  await plan.promote({ full: true });
  assert.equal(plan.status().phase, 'Completed');
  assert.equal(plan.status().weight, 100);
});

test('two replicas on one store walk together; an analysis breach on either aborts both', async (t) => {
  const store = memoryPlanStore();
  const options = {
    name: 'shared',
    lane: 'gray',
    store,
    tickIntervalMs: 10,
    steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 30 }, { pause: {} }],
    analysis: { minRequests: 50, maxErrorRatio: 0.05 },
  };
  const a = releasePlan({ ...options, replica: 'a' });
  const b = releasePlan({ ...options, replica: 'b' });
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([a.ready(), b.ready()]);
  await until('both at 10%', () => a.status().weight === 10 && b.status().weight === 10);
  await a.promote();
  await until('b at 30%', () => b.status().weight === 30);
  for (let i = 0; i < 100; i++) b.observe('gray', i % 10 === 0 ? 503 : 200, 1);
  await until('a aborted by b', () => a.status().phase === 'Aborted');
  assert.match(a.status().abortReason ?? '', /^analysis: gray 5xx ratio 10\.00% > 5\.00% over 100 requests$/);
  assert.equal(a.current.rules.decide({}).lane, undefined);
});

test('an analysis step judges latency against the base', async (t) => {
  const plan = releasePlan({
    name: 'latency',
    lane: 'gray',
    tickIntervalMs: 10,
    steps: [
      { setWeight: 50 },
      { analysis: { minRequests: 100, maxLatencyRatio: 1.2, latencyPercentile: 99 } },
      { setWeight: 100 },
    ],
  });
  t.after(() => plan.close());
  await plan.ready();
  await until('the analysis step', () => plan.status().step === 1);
  for (let i = 0; i < 100; i++) plan.observe(undefined, 200, 10);
  for (let i = 0; i < 100; i++) plan.observe('gray', 200, i < 97 ? 10 : 40);
  await until('the latency breach', () => plan.status().phase === 'Aborted');
  assert.match(plan.status().abortReason ?? '', /p99 .* > 1\.2 x base p99/);
  await plan.retry();
  await until(
    'the analysis step again',
    () => plan.status().step === 1 && plan.status().phase === 'Progressing',
  );
  for (let i = 0; i < 100; i++) plan.observe(undefined, 200, 10);
  for (let i = 0; i < 100; i++) plan.observe('gray', 200, 11);
  await until('completion', () => plan.status().phase === 'Completed');
});

test('a replica with other steps neither walks nor applies the shared position, but obeys an abort', async (t) => {
  const store = memoryPlanStore();
  const errors: string[] = [];
  const a = releasePlan({
    name: 'changed',
    lane: 'gray',
    store,
    tickIntervalMs: 10,
    steps: [{ setWeight: 10 }, { pause: {} }],
  });
  t.after(() => a.close());
  await a.ready();
  await until('a at 10%', () => a.status().weight === 10 && a.status().phase === 'Paused');
  const b = releasePlan({
    name: 'changed',
    lane: 'gray',
    store,
    tickIntervalMs: 10,
    steps: [{ setWeight: 50 }, { setWeight: 60 }, { pause: {} }],
    onError: (error) => errors.push(error.message),
  });
  t.after(() => b.close());
  await b.ready();
  assert.equal(b.status().phase, 'Pending');
  assert.equal(b.status().weight, 0);
  assert.match(errors[0] ?? '', /written by a plan with other steps/);
  await a.abort('rolled back');
  await until('b obeys the abort', () => b.status().phase === 'Aborted');
  await b.retry();
  await until('b took over', () => b.status().weight === 60);
  assert.equal(a.status().phase, 'Aborted', 'and now a is the one that does not apply (it keeps the abort)');
  assert.equal(a.status().weight, 0);
});
