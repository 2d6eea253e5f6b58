// Context suite: ns per op of "enter a lane, cross one await, read the lane", for graylane
// (withLane/currentLane), a bare AsyncLocalStorage, cls-hooked, OpenTelemetry context + baggage,
// and the bare `await` baseline. Each case runs alone in a fresh process (context/case.mjs, mitata
// group/bench); the cases interleave over rounds (rotated order per round). Overhead = the case's
// ns/op minus the `await` case's ns/op of the same round; the headline figures are medians over
// rounds with min–max. Prints progress on stderr and one final `BENCH_JSON {...}` line on stdout.
//
//   node context/driver.mjs [--quick] [--rounds N] [--cases a,b]
import { parseArgs } from 'node:util';
import { runProcess } from '../lib/proc.mjs';
import { summarize } from '../lib/stats.mjs';

const CASE = new URL('./case.mjs', import.meta.url).pathname;
const ALL_CASES = ['await', 'graylane', 'async-local-storage', 'cls-hooked', 'otel-baggage'];
const CASE_TIMEOUT_MS = 120_000;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    cases: { type: 'string' },
  },
});
const config = {
  rounds: Number(args.rounds ?? (args.quick ? 1 : 2)),
  cases: args.cases ? args.cases.split(',') : ALL_CASES,
};
const log = (...parts) => console.error('[context]', ...parts);

async function main() {
  const started = Date.now();
  const perCase = Object.fromEntries(config.cases.map((c) => [c, { rounds: [], error: undefined }]));
  for (let r = 0; r < config.rounds; r++) {
    for (let i = 0; i < config.cases.length; i++) {
      const name = config.cases[(i + r) % config.cases.length];
      const res = await runProcess(process.execPath, ['--expose-gc', CASE, name], {
        timeoutMs: CASE_TIMEOUT_MS,
        echo: false,
      });
      if (res.json?.op === undefined) {
        perCase[name].error = res.timedOut
          ? 'timed out'
          : `exit ${res.code}: ${res.stderr.trim().split('\n').pop()}`;
        log(`round ${r + 1} ${name}: ${perCase[name].error}`);
        continue;
      }
      perCase[name].rounds[r] = { opNs: res.json.op.avgNs, inProcessAwaitNs: res.json.inProcessAwait.avgNs };
      log(
        `round ${r + 1}/${config.rounds} ${name.padEnd(20)} ${res.json.op.avgNs.toFixed(0).padStart(7)} ns/op`,
      );
    }
  }

  const base = perCase.await?.rounds ?? [];
  const overheadOf = (name) =>
    perCase[name].rounds.map((w, r) =>
      w === undefined || base[r] === undefined ? Number.NaN : w.opNs - base[r].opNs,
    );
  const cases = {};
  for (const name of config.cases) {
    const c = perCase[name];
    cases[name] = {
      available: c.rounds.some((w) => w !== undefined),
      error: c.error,
      opNs: summarize(c.rounds.map((w) => w?.opNs)),
      inProcessAwaitNs: summarize(c.rounds.map((w) => w?.inProcessAwaitNs)),
      overheadNs: summarize(overheadOf(name)),
    };
  }
  // Paired per round: overhead(case) / overhead(cls-hooked).
  if (perCase['cls-hooked'] !== undefined) {
    const cls = overheadOf('cls-hooked');
    for (const name of config.cases) {
      const mine = overheadOf(name);
      cases[name].overheadVsClsHooked = summarize(mine.map((o, r) => o / cls[r]));
    }
  }
  const ratio = cases.graylane?.overheadVsClsHooked?.median;
  const targets = [
    {
      name: "graylane enter+read overhead above a bare await <= 40% of cls-hooked's",
      variant: 'graylane',
      baseline: 'cls-hooked',
      metric: 'overheadNs',
      op: '<=',
      limit: 0.4,
      value: Number.isFinite(ratio) ? ratio : null,
      met: Number.isFinite(ratio) ? ratio <= 0.4 : null,
    },
  ];
  const out = {
    suite: 'context',
    node: process.version,
    config,
    elapsedS: (Date.now() - started) / 1000,
    cases,
    targets,
  };
  process.stdout.write(`BENCH_JSON ${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
