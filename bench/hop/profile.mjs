// CPU profile of one hop variant (a diagnostic): serves HOP variant `--variant` in a process
// started with --cpu-prof, loads it with autocannon for `--seconds`, then lets it exit normally
// so V8 writes the .cpuprofile into `--dir`. Open it in Chrome DevTools or summarise it with
// hop/profile-summary.mjs.
//   node hop/profile.mjs --variant graylane [--seconds 20] [--dir /tmp/hop-prof] [--interval 250]
// (--interval: sampling interval in µs)
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', default: 'graylane' },
    seconds: { type: 'string', default: '20' },
    dir: { type: 'string', default: 'hop-profile' },
    interval: { type: 'string', default: '250' },
  },
});

async function start(script, env, execArgv = []) {
  const child = fork(new URL(script, import.meta.url), {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const [ready] = await once(child, 'message');
  if (ready.type !== 'ready') throw new Error(`${script}: ${ready.message}`);
  return { child, ready };
}

const upstream = await start('./upstream.mjs', {});
const hop = await start(
  './server.mjs',
  { HOP_VARIANTS: args.variant, HOP_UPSTREAM: `http://127.0.0.1:${upstream.ready.port}` },
  ['--cpu-prof', `--cpu-prof-dir=${args.dir}`, `--cpu-prof-interval=${args.interval}`],
);
const url = `http://127.0.0.1:${hop.ready.ports[args.variant]}/`;
await autocannon({ url, connections: 16, amount: 4000, headers: { 'x-mse-tag': 'gray' } }); // warm-up
const result = await autocannon({
  url,
  connections: 16,
  duration: Number(args.seconds),
  headers: { 'x-mse-tag': 'gray' },
});
console.error(`[profile] ${args.variant}: ${result.requests.total} requests; profile in ${args.dir}`);
const exited = once(hop.child, 'exit');
hop.child.disconnect(); // server.mjs exits(0) on disconnect: V8 writes the profile
await exited;
upstream.child.kill();
