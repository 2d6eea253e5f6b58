// Hop suite (a diagnostic, not part of `npm run bench`): CPU per request of ONE Express hop, for
// several variants served side by side by one process (hop/server.mjs), in interleaved windows.
// One process and short alternating windows cancel most of the drift that makes the 3-process
// chain suite swing by 5-10% between runs, so differences of about 1% show. What it cannot show:
// costs every variant in the process shares, such as AsyncLocalStorage's promise hooks on Node 20
// (use the chain suite, where each variant has its own processes).
//
//   node hop/driver.mjs [--variants als,graylane,hand-copy] [--rounds 10]
//                       [--requests 8000] [--connections 16]
// A variant is an app of hop/server.mjs (see APPS there). Per variant it reports CPU µs per
// request, and against the first variant the paired ratio and the paired difference (µs per hop,
// round by round), each as median with min-max.
// Prints progress on stderr and one `BENCH_JSON {...}` line on stdout.
import { fork } from 'node:child_process';
import { once } from 'node:events';
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

const upstream = await start('./upstream.mjs', {});
const hop = await start('./server.mjs', {
  HOP_VARIANTS: variants.join(','),
  HOP_UPSTREAM: `http://127.0.0.1:${upstream.ready.port}`,
});

async function measure(variant, amount) {
  const before = (await hop.ask({ type: 'cpu' })).cpu;
  const result = await autocannon({
    url: `http://127.0.0.1:${hop.ready.ports[variant]}/`,
    connections,
    amount,
    headers: { 'x-mse-tag': 'gray' },
  });
  const after = (await hop.ask({ type: 'cpu' })).cpu;
  const cpu = after.user + after.system - before.user - before.system;
  return { cpuUsPerReq: cpu / result.requests.total, errors: result.errors + result.non2xx };
}

log(`node ${process.version}; ${variants.join(', ')}; ${rounds} rounds x ${requests} requests`);
for (const variant of variants) await measure(variant, Math.min(requests, 4000)); // warm-up
const perRound = Object.fromEntries(variants.map((v) => [v, []]));
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(i + r) % variants.length];
    const result = await measure(variant, requests);
    perRound[variant].push(result);
    log(
      `round ${r + 1}/${rounds} ${variant.padEnd(18)} ${result.cpuUsPerReq.toFixed(1)} µs/req  errors ${result.errors}`,
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
    errors: rows.reduce((sum, row) => sum + row.errors, 0),
  };
  const s = summary[variant];
  console.error(
    `${variant.padEnd(18)} ${s.cpuUsPerReq.median.toFixed(1)} µs/req (${s.cpuUsPerReq.min.toFixed(1)}-${s.cpuUsPerReq.max.toFixed(1)})   x${s.ratioToFirst.median.toFixed(3)} of ${variants[0]} (${s.ratioToFirst.min.toFixed(2)}-${s.ratioToFirst.max.toFixed(2)})   ${fmt(s.diffToFirstUs.median)} µs (${fmt(s.diffToFirstUs.min)} to ${fmt(s.diffToFirstUs.max)})`,
  );
}
console.log(
  `BENCH_JSON ${JSON.stringify({ suite: 'hop', node: process.version, rounds, requests, connections, summary })}`,
);
hop.child.kill();
upstream.child.kill();
