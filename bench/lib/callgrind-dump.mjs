// Reading callgrind's dumps of one process run with `--separate-threads=yes` and
// `--callgrind-out-file=<dir>/callgrind.out.%p`: the n-th dump `callgrind_control --dump` asked for
// is `callgrind.out.<pid>.<n>-<thread>`, the one written at exit `callgrind.out.<pid>-<thread>`.
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The instruction total of the JavaScript thread (thread 1) in the newest dump of `pid` in `dir`.
 * V8's background compiler and GC helper threads run when timing makes them run, which moved the
 * process total by up to a factor of 2 between windows; thread 1 is the one that runs the code
 * measured. Every dump file of `pid` is removed after (so the next call reads only newer ones);
 * thread 1's is first copied to `keepAs` when given.
 */
export function jsThreadTotal(dir, pid, keepAs) {
  const prefix = `callgrind.out.${pid}`;
  const dumps = [];
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(prefix)) continue;
    const match = /^(?:\.(\d+))?-(\d+)$/.exec(f.slice(prefix.length));
    if (match !== null)
      dumps.push({ file: join(dir, f), n: Number(match[1] ?? 0), thread: Number(match[2]) });
  }
  const newest = Math.max(...dumps.map((d) => d.n));
  const own = dumps.find((d) => d.n === newest && d.thread === 1);
  if (own === undefined) throw new Error(`no dump of thread 1 of ${pid} in ${dir}`);
  const line = readFileSync(own.file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('totals:') || l.startsWith('summary:'));
  if (line === undefined) throw new Error(`no totals in ${own.file}`);
  if (keepAs !== undefined) copyFileSync(own.file, keepAs);
  for (const d of dumps) rmSync(d.file);
  return Number(line.split(/\s+/)[1]);
}
