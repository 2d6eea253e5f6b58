// currentLane() with the instance-lane switch off and on, against the implementation before the
// switch existed (copied below as the baseline), in the same run. Not a test: run it by hand.
//
//   node --import tsx packages/core/bench/current-lane.bench.ts
//
// The measuring loop runs in the case's context (entered with enterWith, as bench/propagation does).

import { currentLane, enableInstanceLane } from '../src';
import { BASE_CONTEXT, createLaneContext, type LaneContext } from '../src/context';
import { laneStorage } from '../src/internal/global';

const storage = laneStorage();
let switchedOn = false;
const GRAY: LaneContext = createLaneContext('gray');

// currentLane() as it was before the instance lane (no OpenTelemetry bridge: the slot is null).
const noFallback: (() => LaneContext | undefined) | null = null as (() => LaneContext | undefined) | null;
function baselineCurrentLane(): string | undefined {
  const context = storage.getStore();
  if (context !== undefined) return context.lane;
  if (noFallback === null) return undefined;
  const fallback = noFallback();
  return fallback === undefined ? undefined : fallback.lane;
}

async function main(): Promise<void> {
  const { bench, group, run, do_not_optimize } = await import('mitata');
  const sections: Array<[string, LaneContext | undefined]> = [
    ['in lane gray, switch off', GRAY],
    ['untagged request (base context), switch off', BASE_CONTEXT],
    ['outside any request, switch off', undefined],
  ];
  for (const [name, context] of sections) {
    group(name, () => {
      bench(`${name}: before (baseline)`, () => {
        storage.enterWith(context as LaneContext);
        return () => do_not_optimize(baselineCurrentLane());
      });
      bench(`${name}: currentLane()`, () => {
        storage.enterWith(context as LaneContext);
        return () => do_not_optimize(currentLane());
      });
    });
  }
  group('outside any request, switch on (instance lane gray)', () => {
    bench('currentLane(), switch on', () => {
      storage.enterWith(undefined as unknown as LaneContext);
      if (!switchedOn) enableInstanceLane({ lane: 'gray' });
      switchedOn = true;
      return () => do_not_optimize(currentLane());
    });
  });
  await run();
  console.log(`node ${process.version}`);
}

void main();
