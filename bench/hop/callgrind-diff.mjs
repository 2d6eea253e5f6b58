// Where one variant's instructions per hop differ from another's, by function and by kind of work:
// reads the dumps `hop/callgrind.mjs --keep DIR` kept (the JavaScript thread of each window) and
// the map of JIT code node wrote beside them (perf.map: V8's code for JavaScript functions has no
// symbols of its own, so callgrind names it by address), sums each function's own instructions
// (self cost) over the chosen rounds, and prints `variant` − `base` per request: in total, by kind
// (garbage collection, V8's property-lookup slow paths, graylane's own code, undici, Express, …)
// and for the functions that differ most. Garbage collection is shown apart because a window of a
// few hundred requests holds a whole number of scavenges: it moves by ±10,000 instructions per
// request between windows whatever the variant, so the rest is what is read.
//   node hop/callgrind-diff.mjs DIR base variant [--rounds 1,2,3] [--top 25]
// Needs callgrind_annotate (valgrind) on PATH.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, top: { type: 'string', default: '25' } },
});
const [dir, base, variant] = positionals;
if (variant === undefined)
  throw new Error('usage: callgrind-diff.mjs DIR base variant [--rounds 1,2] [--top 25]');
const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
const rounds = args.rounds?.split(',').map(Number) ?? Array.from({ length: meta.rounds }, (_, i) => i + 1);

// perf.map lines: `<start hex> <size hex> <name>`; later entries win (code can be replaced).
const jit = readFileSync(join(dir, 'perf.map'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => {
    const [start, size, ...name] = line.split(' ');
    return {
      start: Number.parseInt(start, 16),
      end: Number.parseInt(start, 16) + Number.parseInt(size, 16),
      name: name.join(' '),
    };
  })
  .sort((a, b) => a.start - b.start);

function jitName(address) {
  let lo = 0;
  let hi = jit.length - 1;
  let found;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (jit[mid].start <= address) {
      found = jit[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found !== undefined && address < found.end ? found.name : undefined;
}

// Inclusive totals callgrind_annotate prints for the callers of everything: not self cost.
const ROOTS =
  /^(\(below main\)|main|node::Start|node::NodeMainInstance::Run|node::SpinEventLoopInternal|\.\/csu\/|0x000000000001ab70$)/;

function selfCost(file) {
  const out = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const costs = new Map();
  for (const line of out.split('\n')) {
    const match = /^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$/.exec(line);
    if (match === null || line.includes('PROGRAM TOTALS')) continue;
    let name = match[2].replace(/\s*\[[^\]]*\]$/, '').replace(/^\?\?\?:/, '');
    if (ROOTS.test(name)) continue;
    if (/^0x[0-9a-f]+$/.test(name)) name = jitName(Number.parseInt(name, 16)) ?? 'JIT code not in perf.map';
    costs.set(name, (costs.get(name) ?? 0) + Number(match[1].replaceAll(',', '')));
  }
  return costs;
}

function sum(v) {
  const total = new Map();
  for (const round of rounds) {
    const file = join(dir, `${v}.${round}.out`);
    if (!existsSync(file)) throw new Error(`${file} is missing`);
    for (const [name, cost] of selfCost(file)) total.set(name, (total.get(name) ?? 0) + cost);
  }
  return total;
}

const KINDS = [
  [
    'garbage collection',
    /Scaveng|Heap::|heap::|MarkCompact|Sweep|Marking|PointersUpdating|StringTableCleaner|WeakReferences|MemoryAllocator|MemoryChunk|PagedSpace|NewSpace|SemiSpace|Evacuat|RememberedSet|SlotSet|IterateMaybeWeak|BodyDescriptor|IterateObjectCache|RootScavenge|SizeFromMap|memcpy|memmove|memset/,
  ],
  ['graylane (packages/*)', /\/packages\/[a-z-]+\/dist\//],
  ['undici', /node_modules\/undici\//],
  [
    'express and its modules',
    /node_modules\/(express|router|body-parser|finalhandler|send|on-finished|path-to-regexp|qs|statuses|depd|mime|type-is|content-type|accepts|negotiator|parseurl|encodeurl|escape-html|etag|fresh|range-parser|vary|cookie|proxy-addr|forwarded|ipaddr)/,
  ],
  [
    'fastify and its modules',
    /node_modules\/(fastify|@fastify|avvio|find-my-way|light-my-request|fast-json-stringify|secure-json-parse|abstract-logging|pino|toad-cache|rfdc|process-warning)/,
  ],
  ['bench/hop code', /\/bench\/hop\//],
  [
    'node: JavaScript (lib/)',
    // V8 names JavaScript code `JS:<tier><name> <url>`, and node's own modules' URLs are `node:…`
    // (node's C++ symbols, `node::…`, are not JavaScript).
    /^JS:\S* node:/,
  ],
  [
    'V8: property access slow paths (ICs, lookups, map transitions)',
    /IC_|IC::|LoadIC|StoreIC|KeyedLoad|KeyedStore|LookupIterator|DescriptorArray|Map::|MigrateToMap|Transition|HasOwnProperty|DefineKeyedOwn|SetProperty|GetProperty|Object::|JSObject::|CloneObject|FindOrderedHashMap|StubCache|Runtime_/,
  ],
  ['V8: other builtins', /^Builtins_/],
  ['JIT code not in perf.map', /^JIT code not in perf.map$/],
];
const kindOf = (name) => KINDS.find(([, re]) => re.test(name))?.[0] ?? 'other (V8 and node C++)';

const perRequest = rounds.length * meta.requests;
const a = sum(base);
const b = sum(variant);
const names = new Set([...a.keys(), ...b.keys()]);
const diff = [...names].map((name) => ({ name, d: ((b.get(name) ?? 0) - (a.get(name) ?? 0)) / perRequest }));
const total = (m) => [...m.values()].reduce((x, y) => x + y, 0) / perRequest;
const byKind = new Map();
for (const { name, d } of diff) byKind.set(kindOf(name), (byKind.get(kindOf(name)) ?? 0) + d);
const gc = byKind.get('garbage collection') ?? 0;
const fmt = (n) => `${n >= 0 ? '+' : ''}${Math.round(n).toLocaleString('en-US')}`;

console.log(
  `${meta.node}: \`${variant}\` − \`${base}\`, instructions per request of the JavaScript thread (self cost), rounds ${rounds.join(',')} × ${meta.requests}`,
);
console.log(
  `${base} ${Math.round(total(a)).toLocaleString('en-US')}, ${variant} ${Math.round(total(b)).toLocaleString('en-US')}: ${fmt(total(b) - total(a))}; without garbage collection ${fmt(total(b) - total(a) - gc)}\n`,
);
console.log('| kind | instructions per request |\n| --- | --- |');
for (const [kind, d] of [...byKind].sort((x, y) => y[1] - x[1])) console.log(`| ${kind} | ${fmt(d)} |`);
console.log(`\n| function (self) | ${variant} − ${base} | kind |\n| --- | --- | --- |`);
for (const { name, d } of diff.sort((x, y) => Math.abs(y.d) - Math.abs(x.d)).slice(0, Number(args.top))) {
  console.log(`| ${name.replaceAll('|', '\\|').slice(0, 140)} | ${fmt(d)} | ${kindOf(name)} |`);
}
