// One context-suite case, alone in its process: `node context/case.mjs <case> [--quick]`.
// Each op enters a lane, crosses one `await`, and reads the lane back. A process holds one case
// only, because cls-hooked (async_hooks) and AsyncLocalStorage install process-wide hooks that also
// slow every other await in the process; the `await` baseline is measured in the same process too
// (`inProcessAwait`), which shows that tax. Prints `BENCH_JSON {...}` as its last line.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { bench, do_not_optimize, group, run } from 'mitata';
import { graylane } from '../lib/graylane.mjs';

const require = createRequire(import.meta.url);
const CASE = process.argv[2];
const LANE = 'gray';
const KEY = 'x-mse-tag';
const TICK = Promise.resolve();

let lane = LANE;

async function awaitOnly() {
  await TICK;
  return lane;
}

/** Each case returns the function measured: enter the lane, await once, read the lane. */
const CASES = {
  await: () => awaitOnly,
  graylane: () => {
    const { currentLane, withLane } = graylane('core');
    async function body() {
      await TICK;
      return currentLane();
    }
    return function graylaneOp() {
      return withLane(LANE, body);
    };
  },
  'async-local-storage': () => {
    const als = new AsyncLocalStorage();
    async function body() {
      await TICK;
      return als.getStore();
    }
    return function alsOp() {
      return als.run(LANE, body);
    };
  },
  'cls-hooked': () => {
    const ns = require('cls-hooked').createNamespace('graylane-bench');
    async function body() {
      ns.set(KEY, LANE);
      await TICK;
      return ns.get(KEY);
    }
    return function clsOp() {
      return ns.runPromise(body);
    };
  },
  'otel-baggage': () => {
    const { context, propagation } = require('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    async function body() {
      await TICK;
      return propagation.getBaggage(context.active())?.getEntry(KEY)?.value;
    }
    return function otelOp() {
      const baggage = propagation.createBaggage({ [KEY]: { value: LANE } });
      return context.with(propagation.setBaggage(context.active(), baggage), body);
    };
  },
};

async function main() {
  const make = CASES[CASE];
  if (make === undefined) throw new Error(`unknown case ${CASE}`);
  const op = make();
  const check = await op();
  if (check !== LANE) throw new Error(`${CASE} read ${String(check)} instead of ${LANE}`);

  group('context', () => {
    bench('inProcessAwait', async () => do_not_optimize(await awaitOnly()));
    bench(CASE, async () => do_not_optimize(await op()));
  });
  const { benchmarks } = await run({ format: 'quiet', throw: true });
  const out = { suite: 'context-case', case: CASE, node: process.version };
  for (const trial of benchmarks) {
    const stats = trial.runs[0].stats;
    out[trial.alias === 'inProcessAwait' ? 'inProcessAwait' : 'op'] = { avgNs: stats.avg, p50Ns: stats.p50 };
  }
  lane = undefined;
  process.stdout.write(`BENCH_JSON ${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
