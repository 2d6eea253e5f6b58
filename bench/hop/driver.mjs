// Hop suite (a diagnostic, not part of `npm run bench`): CPU per request of ONE Express hop, for
// several variants served side by side by one process (hop/server.mjs), in interleaved windows.
// One process and short alternating windows cancel most of the drift that makes the 3-process
// chain suite swing by 5-10% between runs, so differences of about 1% show. What it cannot show:
// costs every variant in the process shares, such as AsyncLocalStorage's promise hooks on Node 20
// (use the chain suite, where each variant has its own processes).
//
//   node hop/driver.mjs [--variants als,graylane,hand-copy] [--rounds 10]
//                       [--requests 8000] [--connections 16]
// A variant is an app of hop/server.mjs (see APPS there); `<app>@plain` (say `als@plain`) is that app
// served by a second hop process with no graylane loaded (HOP_PLAIN=1), the floor without graylane's
// process-wide costs: in the first process every variant, `als` included, passes graylane's
// diagnostics-channel subscribers. With it, the table also shows each variant against that floor,
// and `als` − `als@plain`, what graylane costs requests it does not tag. Per variant it reports CPU µs per
// request, and against the first variant the paired ratio and the paired difference (µs per hop,
// round by round), each as median with the interquartile range (q1-q3) and min-max. Before the
// load it checks that every variant carries the lane (a tagged request reaches the upstream with
// it, an untagged one without), and after every window that the upstream received the lane on
// every request of that window; a graylane warning of the hop process fails the run too.
// Prints progress on stderr and one `BENCH_JSON {...}` line on stdout.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { summarize } from '../lib/stats.mjs';

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string', default: 'als,graylane,hand-copy' },
    rounds: { type: 'string', default: '10' },
    requests: { type: 'string', default: '8000' },
    connections: { type: 'string', default: '16' },
  },
});
const variants = args.variants.split(',');
const rounds = Number(args.rounds);
const requests = Number(args.requests);
const connections = Number(args.connections);
const log = (...parts) => console.error('[hop]', ...parts);

/** A forked child that answers `{type, id}` requests over IPC. */
async function start(script, env) {
  const child = fork(new URL(script, import.meta.url), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 2, 2, 'ipc'],
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

const LANE = 'gray';
/** Warnings of the hop process; a graylane one (GL_WARN_*) fails the run. */
const warnings = [];
const upstream = await start('./upstream.mjs', {});
const PLAIN_SUFFIX = '@plain';
const isPlain = (variant) => variant.endsWith(PLAIN_SUFFIX);
const appOf = (variant) => (isPlain(variant) ? variant.slice(0, -PLAIN_SUFFIX.length) : variant);
const startHop = async (names, env) => {
  const proc = await start('./server.mjs', {
    HOP_VARIANTS: names.map(appOf).join(','),
    HOP_UPSTREAM: `http://127.0.0.1:${upstream.ready.port}`,
    ...env,
  });
  proc.child.on('message', (message) => {
    if (message.type !== 'warning') return;
    warnings.push(message);
    log(`hop warning ${message.code}: ${message.message}`);
  });
  return proc;
};
const hop = await startHop(
  variants.filter((v) => !isPlain(v)),
  {},
);
const plainHop = variants.some(isPlain) ? await startHop(variants.filter(isPlain), { HOP_PLAIN: '1' }) : null;
/** The process serving `variant`, and the variant's port there. */
const procOf = (variant) => (isPlain(variant) ? plainHop : hop);
const portOf = (variant) => procOf(variant).ready.ports[appOf(variant)];

/** Requests the upstream received with lane `LANE` so far. */
async function lanesAtUpstream() {
  return (await upstream.ask({ type: 'lanes' })).counts[LANE] ?? 0;
}

/** Fails the run when the hop process emitted a graylane warning (say, an untagged request). */
function checkWarnings() {
  const ours = warnings.filter((w) => String(w.code).startsWith('GL_'));
  if (ours.length > 0) throw new Error(`the hop warned: ${ours.map((w) => w.code).join(', ')}`);
}

/**
 * Before any load: a tagged request must reach the upstream with its lane, an untagged one
 * without. A variant that does not carry the lane would measure too little.
 */
async function probe(variant) {
  const url = `http://127.0.0.1:${portOf(variant)}/`;
  const laneAtUpstream = async (headers) => (await (await fetch(url, { headers })).json()).lane;
  const tagged = await laneAtUpstream({ 'x-mse-tag': LANE });
  const untagged = await laneAtUpstream({});
  if (tagged !== LANE || untagged !== null) {
    throw new Error(
      `${variant} does not carry the lane: the upstream received ${JSON.stringify(tagged)} for a request tagged ${LANE} and ${JSON.stringify(untagged)} for an untagged one`,
    );
  }
}

async function measure(variant, amount) {
  const lanesBefore = await lanesAtUpstream();
  const proc = procOf(variant);
  const { cpu: before, thread: threadBefore } = await proc.ask({ type: 'cpu' });
  const result = await autocannon({
    url: `http://127.0.0.1:${portOf(variant)}/`,
    connections,
    amount,
    headers: { 'x-mse-tag': LANE },
  });
  const { cpu: after, thread: threadAfter } = await proc.ask({ type: 'cpu' });
  // Every request of the window must have reached the upstream with its lane.
  const laned = (await lanesAtUpstream()) - lanesBefore;
  if (laned !== result.requests.total) {
    throw new Error(
      `${variant}: the upstream received lane ${LANE} on ${laned} of ${result.requests.total} requests of a window`,
    );
  }
  checkWarnings();
  const cpu = after.user + after.system - before.user - before.system;
  // The main (JavaScript) thread alone, where the runtime has it: the rest is V8's and libuv's
  // helper threads (concurrent GC, compilers), which move a window's total more than its code does.
  const thread =
    threadAfter === undefined
      ? Number.NaN
      : threadAfter.user + threadAfter.system - threadBefore.user - threadBefore.system;
  return {
    cpuUsPerReq: cpu / result.requests.total,
    mainUsPerReq: thread / result.requests.total,
    errors: result.errors + result.non2xx,
  };
}

const loadAverageStart = os.loadavg();
log(`node ${process.version}; ${variants.join(', ')}; ${rounds} rounds x ${requests} requests`);
for (const variant of variants) await probe(variant);
for (const variant of variants) await measure(variant, Math.min(requests, 4000)); // warm-up
const perRound = Object.fromEntries(variants.map((v) => [v, []]));
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(i + r) % variants.length];
    const result = await measure(variant, requests);
    perRound[variant].push(result);
    log(
      `round ${r + 1}/${rounds} ${variant.padEnd(20)} ${result.cpuUsPerReq.toFixed(1)} µs/req (main thread ${result.mainUsPerReq.toFixed(1)})  errors ${result.errors}`,
    );
  }
}
const base = perRound[variants[0]];
const fmt = (us) => `${us >= 0 ? '+' : ''}${us.toFixed(2)}`;
const summary = {};
for (const variant of variants) {
  const rows = perRound[variant];
  summary[variant] = {
    cpuUsPerReq: summarize(rows.map((row) => row.cpuUsPerReq)),
    ratioToFirst: summarize(rows.map((row, i) => row.cpuUsPerReq / base[i].cpuUsPerReq)),
    diffToFirstUs: summarize(rows.map((row, i) => row.cpuUsPerReq - base[i].cpuUsPerReq)),
    mainUsPerReq: summarize(rows.map((row) => row.mainUsPerReq)),
    mainDiffToFirstUs: summarize(rows.map((row, i) => row.mainUsPerReq - base[i].mainUsPerReq)),
    errors: rows.reduce((sum, row) => sum + row.errors, 0),
  };
  const s = summary[variant];
  console.error(
    `${variant.padEnd(20)} ${s.cpuUsPerReq.median.toFixed(1)} µs/req (${s.cpuUsPerReq.min.toFixed(1)}-${s.cpuUsPerReq.max.toFixed(1)})   x${s.ratioToFirst.median.toFixed(3)} of ${variants[0]} (${s.ratioToFirst.min.toFixed(2)}-${s.ratioToFirst.max.toFixed(2)})   ${fmt(s.diffToFirstUs.median)} µs, IQR ${fmt(s.diffToFirstUs.q1)} to ${fmt(s.diffToFirstUs.q3)}, range ${fmt(s.diffToFirstUs.min)} to ${fmt(s.diffToFirstUs.max)}`,
  );
}
// The table for results/hop.md: each variant against its own floors, paired round by round — a
// Fastify variant against `fastify-als` (else the first variant), the others against the first
// variant; each also against the same floor in the plain process (`…@plain`) when that ran.
const floorsOf = (variant) => {
  const same =
    variant.startsWith('fastify-') && perRound['fastify-als'] !== undefined ? 'fastify-als' : variants[0];
  return [same, `${same}${PLAIN_SUFFIX}`].filter((f) => f !== variant && perRound[f] !== undefined);
};
const loadAverageEnd = os.loadavg();
console.error(
  `\n${process.version}, ${rounds} rounds × ${requests} requests, load average ${loadAverageStart[0].toFixed(1)} at start, ${loadAverageEnd[0].toFixed(1)} at end (1 min)`,
);
console.error(
  '| variant − its floor | µs per hop, median | IQR | min..max | variant µs/req | main thread only: median (IQR) |',
);
console.error('| --- | --- | --- | --- | --- | --- |');
for (const variant of variants) {
  if (isPlain(variant)) continue;
  for (const floor of floorsOf(variant)) {
    const pair = (key) => summarize(perRound[variant].map((row, i) => row[key] - perRound[floor][i][key]));
    const d = pair('cpuUsPerReq');
    const m = pair('mainUsPerReq');
    console.error(
      `| \`${variant}\` − \`${floor}\` | ${fmt(d.median)} | ${fmt(d.q1)} to ${fmt(d.q3)} | ${fmt(d.min)}..${fmt(d.max)} | ${summary[variant].cpuUsPerReq.median.toFixed(1)} | ${fmt(m.median)} (${fmt(m.q1)} to ${fmt(m.q3)}) |`,
    );
  }
}
console.log(
  `BENCH_JSON ${JSON.stringify({
    suite: 'hop',
    node: process.version,
    date: new Date().toISOString(),
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    loadAverage: { start: loadAverageStart, end: loadAverageEnd },
    rounds,
    requests,
    connections,
    summary,
    // CPU µs per request of each variant, round by round: any other pair can be compared later.
    perRound: Object.fromEntries(variants.map((v) => [v, perRound[v].map((row) => row.cpuUsPerReq)])),
    perRoundMainThread: Object.fromEntries(
      variants.map((v) => [v, perRound[v].map((row) => row.mainUsPerReq)]),
    ),
  })}`,
);
hop.child.kill();
plainHop?.child.kill();
upstream.child.kill();
