// Runs the files of docs/quickstart/ the way a user does: each as its own process
// (`node --import tsx <file>`), configured through the environment, reached over loopback.
// Shared by the root README's quick starts and the framework packages' quick starts.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { listen } from './listen';

export const REPO_ROOT = join(__dirname, '..', '..');
export const QUICKSTART_DIR = join(REPO_ROOT, 'docs', 'quickstart');
const TSX = pathToFileURL(require.resolve('tsx')).href;
/** How long a quick start may take to come up. */
export const START_TIMEOUT_MS = 20_000;

export interface Running {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Runs docs/quickstart/`file` as its own process (`node --import tsx <file>`) in `cwd` (default:
 * the repository root) with `env` on top of this process's environment; stopped in t.after.
 */
export function runQuickstart(
  t: TestContext,
  file: string,
  env: Record<string, string>,
  cwd: string = REPO_ROOT,
): Running {
  const child = spawn(process.execPath, ['--import', TSX, join(QUICKSTART_DIR, file)], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const grace = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(grace);
  };
  t.after(stop);
  return { child, output: () => output, stop };
}

/** Retries `attempt` until it stops throwing (the process is still starting), bounded in time. */
export async function eventually<T>(
  what: string,
  running: Running | null,
  attempt: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (running !== null && running.child.exitCode !== null) {
        assert.fail(`${what}: the process exited (${running.child.exitCode}):\n${running.output()}`);
      }
      if (Date.now() > deadline) {
        assert.fail(`${what}: ${String(error)}\n${running?.output() ?? ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** GETs `url`, expects 200 and returns the JSON body. */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A JSON upstream on 127.0.0.1 port 0 (closed in t.after). */
export async function upstream(
  t: TestContext,
  body: (req: IncomingMessage) => unknown,
): Promise<{ port: number; url: string }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body(req)));
  });
  const port = await listen(server, t);
  return { port, url: `http://127.0.0.1:${port}` };
}

/** The lane header a request arrived with, or null. */
export const tagOf = (req: IncomingMessage) => req.headers['x-mse-tag'] ?? null;
