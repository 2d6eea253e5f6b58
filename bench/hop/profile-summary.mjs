// Summarises a .cpuprofile: self time per function (top N), the self time of functions whose
// name or URL matches `--self` (summed), and the time under functions matching `--match`
// (inclusive), in µs per request when `--requests` is given.
//   node hop/profile-summary.mjs <file.cpuprofile> [--top 30] [--self core/dist] [--match x] [--requests N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '30' },
    match: { type: 'string' },
    self: { type: 'string' },
    requests: { type: 'string' },
  },
});
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const interval = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  interval.set(profile.samples[i], (interval.get(profile.samples[i]) ?? 0) + dt);
}
const total = [...interval.values()].reduce((a, b) => a + b, 0);
const perRequest = args.requests ? (us) => `${(us / Number(args.requests)).toFixed(2)} µs/req` : () => '';
const label = (n) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-3).join('/')}:${n.callFrame.lineNumber + 1}`;
const self = new Map();
for (const [id, us] of interval) {
  const key = label(byId.get(id));
  self.set(key, (self.get(key) ?? 0) + us);
}
console.log(`total ${(total / 1000).toFixed(0)} ms sampled ${perRequest(total)}`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) {
  console.log(`${((100 * us) / total).toFixed(2).padStart(6)}%  ${perRequest(us).padStart(14)}  ${key}`);
}
if (args.self) {
  const re = new RegExp(args.self);
  const rows = [...self].filter(([key]) => re.test(key)).sort((a, b) => b[1] - a[1]);
  const sum = rows.reduce((acc, [, us]) => acc + us, 0);
  for (const [key, us] of rows) console.log(`  self ${perRequest(us).padStart(14)}  ${key}`);
  console.log(`self of /${args.self}/: ${((100 * sum) / total).toFixed(2)}% ${perRequest(sum)}`);
}
if (args.match) {
  const re = new RegExp(args.match);
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let inclusive = 0;
  for (const [id, us] of interval) {
    for (let p = id; p !== undefined; p = parent.get(p)) {
      if (re.test(label(byId.get(p)))) {
        inclusive += us;
        break;
      }
    }
  }
  console.log(`under /${args.match}/: ${((100 * inclusive) / total).toFixed(2)}% ${perRequest(inclusive)}`);
}
