// The quick start of each framework package's README is a docs/quickstart file, verbatim, and
// runs: started as its own process (`node --import tsx`), a tagged request reaches the handler in
// its lane and the handler's fetch() carries it; an untagged one stays base.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { listen } from './helpers/listen';

const root = join(__dirname, '..');
const quickstarts = join(root, 'docs', 'quickstart');
const TSX = pathToFileURL(require.resolve('tsx')).href;
/** How long a quick start may take to come up. */
const START_TIMEOUT_MS = 20_000;

const QUICKSTARTS: ReadonlyArray<readonly [file: string, readme: string]> = [
  ['nestjs/service.ts', 'packages/nestjs/README.md'],
  ['fastify-service.ts', 'packages/fastify/README.md'],
  ['koa-service.ts', 'packages/koa/README.md'],
  ['node-http-service.ts', 'packages/core/README.md'],
];

// --- helpers -------------------------------------------------------------------------------------

/** A loopback port that was free a moment ago: the quick starts read `PORT` as users would. */
async function freePort(): Promise<number> {
  const server = createNetServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

interface Running {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** Runs a quick start file as its own process (`node --import tsx <file>`), stopped in t.after. */
function runQuickstart(
  t: TestContext,
  file: string,
  env: Record<string, string>,
  cwd: string = root,
): Running {
  const child = spawn(process.execPath, ['--import', TSX, join(quickstarts, file)], {
    cwd,
    // The NestJS quick start uses decorators: it runs with its own tsconfig, as a Nest project does.
    env: {
      ...process.env,
      ...(file.startsWith('nestjs/')
        ? { TSX_TSCONFIG_PATH: join(quickstarts, 'nestjs', 'tsconfig.json') }
        : {}),
      ...env,
    },
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
async function eventually<T>(what: string, running: Running | null, attempt: () => Promise<T>): Promise<T> {
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

async function getJson(url: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A JSON upstream on 127.0.0.1 port 0 (closed in t.after). */
async function upstream(
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

const tagOf = (req: IncomingMessage) => req.headers['x-mse-tag'] ?? null;

for (const [file, readme] of QUICKSTARTS) {
  test(`${readme} has docs/quickstart/${file} verbatim`, () => {
    const source = readFileSync(join(quickstarts, file), 'utf8');
    const text = readFileSync(join(root, readme), 'utf8');
    // The fence may carry the example tags test/packed-install.test.ts reads (CONTRIBUTING.md).
    const at = text.indexOf(`\n${source}\`\`\``);
    assert.ok(at !== -1, `${readme} has docs/quickstart/${file} verbatim (copy it again)`);
    assert.match(text.slice(text.lastIndexOf('\n', at - 1) + 1, at), /^```ts(?: |$)/);
  });

  test(`${file}: each request runs in its lane and its fetch() carries it`, async (t) => {
    const inventory = await upstream(t, (req) => ({ tag: tagOf(req) }));
    const port = await freePort();
    const service = runQuickstart(t, file, { PORT: String(port), INVENTORY_URL: inventory.url });
    const url = `http://127.0.0.1:${port}/checkout`;
    assert.deepEqual(await eventually(file, service, () => getJson(url, { 'x-mse-tag': 'gray' })), {
      lane: 'gray',
      stock: { tag: 'gray' },
    });
    assert.deepEqual(await getJson(url), { lane: 'base', stock: { tag: null } });
    assert.deepEqual(await getJson(url, { 'x-mse-tag': 'not a lane!' }), {
      lane: 'base',
      stock: { tag: null },
    });
  });
}

test('nestjs/service.ts type-checks with its tsconfig (decorators on, as in a Nest project)', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(quickstarts, 'nestjs', 'tsconfig.json')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
