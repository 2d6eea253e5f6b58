// Instructions per message of the whole publish + consume pipeline under callgrind (a diagnostic,
// not part of `npm run bench`): what one side of bench/messaging/throughput.mjs costs this process's
// JavaScript thread per message, where throughput on a shared 2-core machine moves by ±20 % between
// rounds. Runs `throughput.mjs <broker> --only <side> --mix <mix>` under callgrind with a small and a
// large N; the difference over the extra messages is the marginal cost per message (the process's
// start, module loading and each round's setup cancel out). Costs that grow with time rather than
// with messages (liveness reads every interval, a pull's expiry) are inflated about 50 × as the
// process runs that much slower under callgrind: they count against graylane, never for it.
//   node bench/messaging/callgrind-pipeline.mjs <broker> [--mix mixed-routed] [--small 2000] [--large 12000]
//        [--rounds 2] [--repeat 1] [--node <path>]
// Needs valgrind and the broker; a few minutes per broker.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jsThreadTotal } from '../lib/callgrind-dump.mjs';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mix: { type: 'string', default: 'mixed-routed' },
    small: { type: 'string', default: '2000' },
    large: { type: 'string', default: '12000' },
    rounds: { type: 'string', default: '2' },
    repeat: { type: 'string', default: '1' },
    node: { type: 'string', default: process.execPath },
  },
});
const [broker] = positionals;
if (broker === undefined) throw new Error('usage: callgrind-pipeline.mjs <broker> [--mix ...]');
const bench = join(import.meta.dirname, 'throughput.mjs');

/** Instructions of the JavaScript thread (callgrind's thread 1) for one `--only` run. */
function instructions(side, n) {
  const dir = mkdtempSync(join(os.tmpdir(), 'callgrind-pipeline-'));
  try {
    const run = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        '--separate-threads=yes',
        `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
        args.node,
        bench,
        broker,
        '--only',
        side,
        '--mix',
        args.mix,
        '--n',
        String(n),
        '--rounds',
        args.rounds,
      ],
      { stdio: 'ignore' },
    );
    if (run.status !== 0) throw new Error(`${side} with ${n} messages exited with ${run.status}`);
    return jsThreadTotal(dir, run.pid, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const small = Number(args.small);
const large = Number(args.large);
const extra = (large - small) * Number(args.rounds);
console.log(
  `${broker} ${args.mix}: instructions per message, marginal over ${extra} messages (${args.rounds} rounds of ${small} and of ${large})`,
);
for (let r = 0; r < Number(args.repeat); r++) {
  const perMessage = {};
  for (const side of ['plain', 'lanes'])
    perMessage[side] = (instructions(side, large) - instructions(side, small)) / extra;
  console.log(
    `plain ${perMessage.plain.toFixed(0)}, graylane ${perMessage.lanes.toFixed(0)}: ratio ${(perMessage.lanes / perMessage.plain).toFixed(3)}`,
  );
}
