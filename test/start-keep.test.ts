// `npm start -- --keep` stops cleanly — every child process and the temp files gone — on Ctrl-C
// (SIGINT to the terminal's whole process group) and on SIGTERM to the `npm` process alone, as a
// user stops it (issue 16, item 9).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';

const root = join(__dirname, '..');
const WAIT_MS = 90_000;

/** Every live descendant of `pid` (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return state.slice(state.lastIndexOf(')') + 2, state.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function keepRunning(
  t: TestContext,
): Promise<{ npm: ChildProcess; tmp: string; output: () => string }> {
  // Its own TMPDIR, to see exactly which temp files the run leaves; its own process group, as a
  // terminal gives a foreground job.
  const tmp = mkdtempSync(join(tmpdir(), 'graylane-start-keep-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const npm = spawn('npm', ['start', '--silent', '--', '--keep', '--no-build'], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  npm.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  t.after(() => {
    // Whatever is left of the group (orphans of a failed stop included).
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  await until(
    'the chain to stay up',
    () => output.includes('--keep: the chain stays up'),
    () => output,
  );
  return { npm, tmp, output: () => output };
}

async function assertStopped(npm: ChildProcess, tree: number[], tmp: string, output: () => string) {
  if (npm.exitCode === null && npm.signalCode === null) await once(npm, 'exit');
  await until('every child process to exit', () => tree.every((pid) => !alive(pid)), output);
  // tsx keeps its compile cache there too (tsx-<uid>); the chain's own files must be gone.
  assert.deepEqual(
    readdirSync(tmp).filter((name) => name.startsWith('graylane-')),
    [],
    'no temp files of the chain left',
  );
}

test('npm start -- --keep: Ctrl-C (SIGINT to the process group) stops every process and removes the temp files', async (t) => {
  const { npm, tmp, output } = await keepRunning(t);
  const tree = descendants(npm.pid!);
  assert.ok(tree.length >= 6, `npm, the demo and the instances are running: ${tree.length}`);
  assert.ok(
    readdirSync(tmp).some((name) => name.startsWith('graylane-full-chain-')),
    'the chain keeps its files in TMPDIR',
  );
  process.kill(-npm.pid!, 'SIGINT');
  await assertStopped(npm, tree, tmp, output);
});

test('npm start -- --keep: SIGTERM to the npm process alone stops every process and removes the temp files', async (t) => {
  const { npm, tmp, output } = await keepRunning(t);
  const tree = descendants(npm.pid!);
  assert.ok(tree.length >= 6, `npm, the demo and the instances are running: ${tree.length}`);
  process.kill(npm.pid!, 'SIGTERM');
  await assertStopped(npm, tree, tmp, output);
});
