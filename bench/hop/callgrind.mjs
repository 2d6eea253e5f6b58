// Instructions per hop under callgrind (a diagnostic, not part of `npm run bench`): a measure the
// machine's load does not move. hop/server.mjs runs under `valgrind --tool=callgrind` with the JIT
// on; this driver (not under valgrind) warms every variant up, then for each window zeroes the
// server's counters (`callgrind_control --zero`), sends a fixed number of tagged requests to one
// variant, and dumps them (`callgrind_control --dump`): the dump's total over the window's requests
// is the variant's instructions per request, of the server's JavaScript thread only (threads are
// counted apart; V8's background compiler and GC helpers are left out; the upstream and the load
// run in their own processes, not under valgrind). Windows alternate between the variants, rotated
// every round, as in hop/driver.mjs; the report is the median per variant and its difference to
// the first variant, with min..max over the rounds.
//   node hop/callgrind.mjs [--node <path>] [--variants als,graylane,graylane-listener,graylane-ingress]
//                          [--requests 500] [--warmup 1500] [--rounds 3] [--concurrency 1] [--plain|--hooks]
// --plain serves the variants from a process with no graylane loaded (hop/server.mjs HOP_PLAIN=1;
// only variants that need none, say `--plain --variants als`): instruction counts do not depend on
// the machine's timing, so its `als` can be set beside another run's to show what graylane's
// process-wide hooks cost requests it does not tag. --hooks: the same variants with those hooks on
// (enablePropagation(), prebindServerRequests()) and no variant using graylane; --plain and --hooks
// with the same variants differ by the hooks alone.
// Requests are sent with undici's `request()` over one keep-alive Pool of `--concurrency`
// connections, `--concurrency` at a time. Every window must reach the upstream with the lane on
// every request, as in hop/driver.mjs. Prints progress on stderr and one `BENCH_JSON {...}` line
// on stdout. Needs valgrind (callgrind, callgrind_control) on PATH; takes a few minutes per
// runtime (callgrind runs the server about 50 times slower).
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { jsThreadTotal } from '../lib/callgrind-dump.mjs';

const { Pool } = createRequire(import.meta.url)('undici');

const { values: args } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    variants: { type: 'string', default: 'als,graylane,graylane-listener,graylane-ingress' },
    requests: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '1500' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1' },
    plain: { type: 'boolean', default: false },
    hooks: { type: 'boolean', default: false },
    // Keep each window's JavaScript-thread dump as <dir>/<variant>.<round>.out, for callgrind_annotate
    // and hop/callgrind-diff.mjs; node then runs with --perf-basic-prof, and its map of JIT code
    // (which functions the dumps' bare addresses are) is kept as <dir>/perf.map.
    keep: { type: 'string' },
  },
});
const variants = args.variants.split(',');
const requests = Number(args.requests);
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
const LANE = 'gray';
const log = (...parts) => console.error('[callgrind]', ...parts);

/** A forked child that answers `{type, id}` requests over IPC. */
async function start(script, env, options = {}) {
  const child = fork(new URL(script, import.meta.url), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 2, 2, 'ipc'],
    ...options,
  });
  const [ready] = await once(child, 'message');
  if (ready.type !== 'ready') throw new Error(`${script}: ${ready.message}`);
  let nextId = 0;
  const ask = async (message) => {
    const id = nextId++;
    child.send({ ...message, id });
    for (;;) {
      const [reply] = await once(child, 'message');
      if (reply.id === id) return reply;
    }
  };
  return { child, ready, ask };
}

const dir = mkdtempSync(join(os.tmpdir(), 'hop-callgrind-'));
const upstream = await start('./upstream.mjs', {});
// fork() runs `execPath ...execArgv script`: valgrind, its options, then the node binary.
const hop = await start(
  './server.mjs',
  {
    HOP_VARIANTS: variants.join(','),
    HOP_UPSTREAM: `http://127.0.0.1:${upstream.ready.port}`,
    ...(args.plain ? { HOP_PLAIN: '1' } : args.hooks ? { HOP_PLAIN: 'hooks' } : {}),
  },
  {
    execPath: 'valgrind',
    execArgv: [
      '--tool=callgrind',
      '--quiet',
      '--separate-threads=yes',
      `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
      args.node,
      // --perf-basic-prof turns V8's logger on: its log goes to the temporary directory, not here.
      ...(args.keep === undefined
        ? []
        : ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`]),
    ],
  },
);
const pid = hop.child.pid;
const pools = Object.fromEntries(
  variants.map((v) => [
    v,
    new Pool(`http://127.0.0.1:${hop.ready.ports[v]}`, { connections: concurrency, pipelining: 1 }),
  ]),
);

/** Sends `amount` tagged requests to `variant`, `concurrency` at a time. */
async function load(variant, amount) {
  let left = amount;
  const worker = async () => {
    while (left > 0) {
      left--;
      const { statusCode, body } = await pools[variant].request({
        path: '/',
        method: 'GET',
        headers: { 'x-mse-tag': LANE },
      });
      const text = await body.text();
      if (statusCode !== 200 || !text.includes(LANE)) {
        throw new Error(`${variant}: ${statusCode} ${text}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const control = (flag) => execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'pipe' });

if (args.keep !== undefined) mkdirSync(args.keep, { recursive: true });

async function measure(variant, round) {
  const lanesBefore = (await upstream.ask({ type: 'lanes' })).counts[LANE] ?? 0;
  control('--zero');
  await load(variant, requests);
  control('--dump');
  const laned = ((await upstream.ask({ type: 'lanes' })).counts[LANE] ?? 0) - lanesBefore;
  if (laned !== requests) {
    throw new Error(`${variant}: the upstream received lane ${LANE} on ${laned} of ${requests}`);
  }
  return (
    jsThreadTotal(
      dir,
      pid,
      args.keep === undefined ? undefined : join(args.keep, `${variant}.${round + 1}.out`),
    ) / requests
  );
}

const nodeVersion = execFileSync(args.node, ['--version'], { encoding: 'utf8' }).trim();
const loadAverageStart = os.loadavg();
log(`node ${nodeVersion} under callgrind; ${variants.join(', ')}; ${rounds} rounds x ${requests}`);
for (const variant of variants) {
  log(`warm-up ${variant} (${args.warmup} requests)`);
  await load(variant, Number(args.warmup));
}
const perRound = Object.fromEntries(variants.map((v) => [v, []]));
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(i + r) % variants.length];
    const perRequest = await measure(variant, r);
    perRound[variant].push(perRequest);
    log(`round ${r + 1}/${rounds} ${variant.padEnd(20)} ${Math.round(perRequest)} instructions/req`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = perRound[variants[0]];
const summary = {};
const fmt = (n) => `${n >= 0 ? '+' : ''}${Math.round(n).toLocaleString('en-US')}`;
console.error(`\n${nodeVersion}, instructions per request (median of ${rounds} rounds, min..max)`);
console.error(`| variant | instructions / hop | − ${variants[0]} |`);
console.error('| --- | --- | --- |');
for (const variant of variants) {
  const rows = perRound[variant];
  const diffs = rows.map((x, i) => x - base[i]);
  summary[variant] = {
    instructions: { median: median(rows), min: Math.min(...rows), max: Math.max(...rows) },
    diffToFirst: { median: median(diffs), min: Math.min(...diffs), max: Math.max(...diffs) },
  };
  const s = summary[variant];
  console.error(
    `| ${variant} | ${Math.round(s.instructions.median).toLocaleString('en-US')} | ${
      variant === variants[0]
        ? '—'
        : `${fmt(s.diffToFirst.median)} (${fmt(s.diffToFirst.min)}..${fmt(s.diffToFirst.max)})`
    } |`,
  );
}
console.log(
  `BENCH_JSON ${JSON.stringify({
    suite: 'hop-callgrind',
    node: nodeVersion,
    date: new Date().toISOString(),
    loadAverage: { start: loadAverageStart, end: os.loadavg() },
    rounds,
    requests,
    concurrency,
    summary,
    perRound,
  })}`,
);
for (const pool of Object.values(pools)) await pool.close();
const exited = once(hop.child, 'exit');
if (args.keep !== undefined) {
  copyFileSync(`/tmp/perf-${pid}.map`, join(args.keep, 'perf.map'));
  writeFileSync(
    join(args.keep, 'meta.json'),
    `${JSON.stringify({ node: nodeVersion, variants, rounds, requests, plain: args.plain, hooks: args.hooks })}\n`,
  );
}
hop.child.kill();
await exited; // callgrind writes its final dump at exit
upstream.child.kill();
rmSync(dir, { recursive: true, force: true });
