// Runs one suite process with a time limit and reads its machine-readable result: the last stdout
// line that starts with `BENCH_JSON ` (the rest of the line is JSON). Without one, the caller keeps
// stdout verbatim.
import { spawn } from 'node:child_process';

const MARKER = 'BENCH_JSON ';
const MAX_CAPTURE = 4 * 2 ** 20; // bytes of stdout/stderr kept per process
const running = new Set(); // pids of live children, each the leader of its own process group

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// Interrupting the runner ends the suite processes it started (and what they started).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const pid of running) killGroup(pid, 'SIGKILL');
    process.exit(130);
  });
}

/** Last `BENCH_JSON {...}` line of `stdout`, parsed; undefined if there is none or it is not JSON. */
export function parseBenchJson(stdout) {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (!line.startsWith(MARKER)) continue;
    try {
      return JSON.parse(line.slice(MARKER.length));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Spawns `execPath args` and resolves (never rejects) with
 * { code, signal, timedOut, elapsedS, stdout, stderr, json }.
 * stderr is echoed to ours as it arrives when `echo` is set (progress lines).
 */
export function runProcess(execPath, args, { cwd, env, timeoutMs, echo = true } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s) => {
      if (stdout.length < MAX_CAPTURE) stdout += s;
    });
    child.stderr.on('data', (s) => {
      if (stderr.length < MAX_CAPTURE) stderr += s;
      if (echo) process.stderr.write(s);
    });
    // The child leads its own process group, so a timeout also ends whatever it started.
    if (child.pid !== undefined) running.add(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5_000).unref();
    }, timeoutMs ?? 600_000);
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child.pid);
      resolve({
        code,
        signal,
        timedOut,
        elapsedS: (Date.now() - started) / 1000,
        stdout,
        stderr,
        json: parseBenchJson(stdout),
      });
    });
  });
}
