// A user's first hour, from a checkout (issue 16): `npm pack` every workspace package (found from
// the root package.json `workspaces`, so new packages are covered), install the tarballs into a
// fresh project in a temp folder OUTSIDE the monorepo (no workspace links) and then:
//
// 1. with only the required peers: every main entry's declarations compile (strict,
//    skipLibCheck false, exactOptionalPropertyTypes) under moduleResolution node10, node16,
//    nodenext and bundler;
// 2. with the peers the README examples use: every entry (subpaths too) compiles the same way, and
//    every README example (a fence tagged `example`, see CONTRIBUTING.md) type-checks and runs as
//    CommonJS and as ESM.
//
// One `npm install` per step, from the npm cache when it has the packages (--prefer-offline).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { startEtcd } from './helpers/etcd';
import { FakeKubeApiServer } from './helpers/fake-kube-apiserver';
import { freePort } from './helpers/listen';

const root = join(__dirname, '..');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  workspaces: string[];
  devDependencies: Record<string, string>;
};
/** How long one example may take to come up or finish. */
const EXAMPLE_TIMEOUT_MS = 30_000;
const MODES = ['node10', 'node16', 'nodenext', 'bundler'] as const;
/**
 * Subpath entries left out of the all-entries check because their client library's OWN
 * declarations fail it: the NATS client's (`@nats-io/*` 3.x) need node16/bundler resolution
 * (`exports`-only subpaths) and do not compile under `exactOptionalPropertyTypes` with
 * `skipLibCheck: false` (`MsgImpl incorrectly implements Msg`). Ours compile in the monorepo.
 */
const CLIENT_TYPES_FAIL: ReadonlySet<string> = new Set(['@graylane/messaging/nats']);
/** Brokers an example may need (`needs=rabbitmq`): running on this machine and in CI, URL by env. */
const BROKERS: ReadonlyMap<string, readonly [env: string, url: string]> = new Map([
  ['rabbitmq', ['AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672']],
]);

interface PackedPackage {
  readonly name: string;
  readonly filename: string;
  readonly files: ReadonlyArray<{ readonly path: string }>;
}

interface Manifest {
  readonly name: string;
  readonly exports?: Record<string, unknown>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface Example {
  /** `README.md#2`, for messages. */
  readonly where: string;
  readonly slug: string;
  readonly source: string;
  /** Infrastructure the example needs: `etcd`, `kubernetes`, `rabbitmq`, or an npm package it loads lazily. */
  readonly needs: readonly string[];
}

/** Env for child npm/node processes: none of the monorepo's npm_* settings. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 180_000 });
  assert.equal(
    r.status,
    0,
    `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`,
  );
  return r.stdout;
}

/** The version the monorepo itself uses (so the npm cache has it), as an install spec. */
function spec(name: string): string {
  const range = rootPkg.devDependencies[name];
  return range === undefined ? name : `${name}@${range}`;
}

/** README files of the repository root and of every workspace package. */
function readmes(): string[] {
  return [join(root, 'README.md'), ...rootPkg.workspaces.map((w) => join(root, w, 'README.md'))];
}

const FENCE = /^```(\S+)([^\n]*)\n([\s\S]*?)^```$/gm;

/** Every fence tagged `example`, and the `file=<name>` fences they read. */
function readmeExamples(): { examples: Example[]; files: Map<string, string> } {
  const examples: Example[] = [];
  const files = new Map<string, string>();
  for (const readme of readmes()) {
    const where = readme.slice(root.length + 1);
    const text = readFileSync(readme, 'utf8');
    let n = 0;
    for (const m of text.matchAll(FENCE)) {
      const words = `${m[1]}${m[2]}`.split(/\s+/).filter(Boolean);
      for (const word of words) {
        if (word.startsWith('file=')) files.set(word.slice(5), m[3]!);
      }
      if (!words.includes('example')) continue;
      n++;
      const needs = words.filter((w) => w.startsWith('needs=')).flatMap((w) => w.slice(6).split(','));
      const slug = `${where
        .replace(/[^A-Za-z0-9]+/g, '-')
        .replace(/-md$/, '')
        .toLowerCase()}-${n}`;
      examples.push({ where: `${where}#${n}`, slug, source: m[3]!, needs });
    }
  }
  return { examples, files };
}

/** Bare package names an example imports (not node:, not @graylane/). */
function importedPackages(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/from '([^'.][^']*)'/g)) {
    const specifier = m[1]!;
    if (specifier.startsWith('node:') || specifier.startsWith('@graylane/')) continue;
    const parts = specifier.split('/');
    names.add(specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return [...names];
}

function runAsync(cmd: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${output}`)),
    );
  });
}

type Mode = (typeof MODES)[number];

function tsconfig(mode: Mode, include: readonly string[], esModuleInterop: boolean): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true,
      skipLibCheck: false,
      exactOptionalPropertyTypes: true,
      esModuleInterop,
      noEmit: true,
      target: 'es2022',
      module: mode === 'node10' ? 'commonjs' : mode === 'bundler' ? 'esnext' : mode,
      moduleResolution: mode,
      types: ['node'],
    },
    files: include,
  });
}

/** Type-checks `file` under each mode, in parallel (tsc is single-threaded). */
async function typecheck(
  app: string,
  file: string,
  modes: readonly Mode[],
  esModuleInterop: boolean,
): Promise<void> {
  await Promise.all(
    modes.map((mode) => {
      const config = `tsconfig.${basename(file, '.ts')}.${mode}.json`;
      writeFileSync(join(app, config), tsconfig(mode, [file], esModuleInterop));
      return runAsync(
        process.execPath,
        [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config],
        app,
      );
    }),
  );
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs a compiled example. It passes when it exits 0 by itself (a script) or listens on `PORT`
 * (a server, then stopped with SIGTERM).
 */
async function runExample(file: string, cwd: string, env: Record<string, string>): Promise<void> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [file], {
    cwd,
    env: cleanEnv({ ...env, PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let code: number | null | undefined;
  void exited.then(([c]) => (code = c));
  const deadline = Date.now() + EXAMPLE_TIMEOUT_MS;
  try {
    for (;;) {
      if (code !== undefined) {
        assert.equal(code, 0, `${basename(file)} exited with ${code}:\n${output}`);
        return;
      }
      if (await canConnect(port)) return;
      if (Date.now() > deadline) assert.fail(`${basename(file)}: neither exited nor listened:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

async function infrastructure(t: TestContext, needs: ReadonlySet<string>): Promise<Record<string, string>> {
  const env: Record<string, string> = { POD_IP: '127.0.0.1', GRAYLANE_LANE: '' };
  // Upstreams the quick-start servers would call; a smoke run sends them no request.
  env.INVENTORY_URL = 'http://127.0.0.1:9';
  env.CHECKOUT_URL = 'http://127.0.0.1:9';
  for (const [need, [name, url]] of BROKERS) if (needs.has(need)) env[name] = process.env[name] ?? url;
  if (needs.has('etcd')) env.ETCD_ENDPOINTS = (await startEtcd(t)).endpoint;
  if (needs.has('kubernetes')) {
    const fake = await FakeKubeApiServer.start({}, t);
    fake.putService('inventory', { app: 'inventory' });
    fake.addPod({ name: 'inventory-stable', labels: { app: 'inventory' }, ip: '10.1.0.5' });
    fake.addPod({
      name: 'inventory-gray',
      labels: { app: 'inventory', 'alicloud.service.tag': 'gray' },
      ip: '10.1.0.6',
    });
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'graylane-packed-kube-')), 'config');
    t.after(() => rmSync(join(kubeconfig, '..'), { recursive: true, force: true }));
    writeFileSync(kubeconfig, fake.kubeconfigYaml());
    env.KUBECONFIG = kubeconfig;
  }
  return env;
}

test('packed tarballs install outside the monorepo; types compile; every README example runs as CJS and ESM', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'graylane-packed-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  assert.ok(!work.startsWith(root), 'the project is outside the monorepo');
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);

  // --- pack ---------------------------------------------------------------------------------
  const packed = JSON.parse(
    run('npm', ['pack', '--workspaces', '--pack-destination', tarballs, '--json', '--silent'], root),
  ) as PackedPackage[];
  const manifests = rootPkg.workspaces.map(
    (w) => JSON.parse(readFileSync(join(root, w, 'package.json'), 'utf8')) as Manifest,
  );
  assert.deepEqual(
    packed.map((p) => p.name).sort(),
    manifests.map((m) => m.name).sort(),
    'every workspace packed',
  );
  for (const pkg of packed) {
    const paths = new Set(pkg.files.map((f) => f.path));
    for (const required of ['LICENSE', 'README.md', 'package.json']) {
      assert.ok(paths.has(required), `${pkg.name}: ${required} in the tarball`);
    }
    assert.ok(
      ![...paths].some((p) => p.endsWith('.tsbuildinfo')),
      `${pkg.name}: no .tsbuildinfo in the tarball`,
    );
    const manifest = manifests.find((m) => m.name === pkg.name)!;
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      if (subpath === './package.json') continue;
      for (const file of Object.values(target as Record<string, string>)) {
        assert.ok(
          paths.has(file.replace(/^\.\//, '')),
          `${pkg.name}: ${subpath} -> ${file} is in the tarball`,
        );
      }
    }
    // Source maps point into src/, which ships so that stack traces and go-to-definition reach it.
    assert.ok(paths.has('src/index.ts'), `${pkg.name}: src/ ships with the source maps`);
  }

  // --- a fresh project, the tarballs and only the required peers ------------------------------
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'graylane-packed-check', private: true }));
  const required = new Set<string>();
  for (const m of manifests) {
    for (const peer of Object.keys(m.peerDependencies ?? {})) {
      if (!peer.startsWith('@graylane/') && m.peerDependenciesMeta?.[peer]?.optional !== true)
        required.add(peer);
    }
  }
  const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'];
  run(
    'npm',
    [
      ...npmInstall,
      ...packed.map((p) => join(tarballs, p.filename)),
      ...[...required].map(spec),
      spec('typescript'),
      spec('@types/node'),
    ],
    app,
  );
  const lstat = spawnSync('find', ['node_modules/@graylane', '-maxdepth', '1', '-type', 'l'], {
    cwd: app,
    encoding: 'utf8',
  });
  assert.equal(lstat.stdout.trim(), '', 'no workspace links: the packages are copies from the tarballs');

  // Main entries with only the required peers installed; explicit undefined in options.
  const mainEntries = manifests.map((m) => `import * as m${manifests.indexOf(m)} from '${m.name}';`);
  writeFileSync(
    join(app, 'main-entries.ts'),
    [
      ...mainEntries,
      `export const all = [${manifests.map((_, i) => `m${i}`).join(', ')}];`,
      // `header: process.env.X` (string | undefined) under exactOptionalPropertyTypes.
      "import { laneFromHeaders } from '@graylane/core';",
      'laneFromHeaders({}, { header: process.env.LANE_HEADER, carry: undefined });',
      '',
    ].join('\n'),
  );
  // Without esModuleInterop too: TypeScript's default, which node10 projects often keep.
  await typecheck(app, 'main-entries.ts', MODES, false);

  // --- the peers the examples use ------------------------------------------------------------
  const { examples, files } = readmeExamples();
  assert.ok(examples.length >= readmes().length, 'every README has at least one example');
  const needs = new Set(examples.flatMap((e) => e.needs));
  const extra = new Set<string>(examples.flatMap((e) => importedPackages(e.source)));
  for (const need of needs) {
    if (need === 'etcd') extra.add('etcd3');
    else if (need === 'kubernetes') extra.add('@kubernetes/client-node');
    else if (!BROKERS.has(need)) extra.add(need);
  }
  if (extra.has('express')) extra.add('@types/express');
  // Subpath entries load their own client library: install those too for the all-entries check.
  // @kubernetes/client-node's own declarations need @types/ws (isomorphic-ws) and esModuleInterop.
  extra.add('etcd3');
  extra.add('@kubernetes/client-node');
  extra.add('@types/ws');
  extra.add('undici');
  // @graylane/messaging's broker subpaths: their clients ship their own declarations.
  for (const client of ['amqplib', 'ioredis', 'bullmq', '@nats-io/transport-node', '@nats-io/jetstream']) {
    extra.add(client);
  }
  for (const r of required) extra.delete(r);
  run('npm', [...npmInstall, ...[...extra].map(spec)], app);

  const allEntries: string[] = [];
  for (const m of manifests) {
    for (const subpath of Object.keys(m.exports ?? { '.': '' })) {
      if (subpath === './package.json') continue;
      allEntries.push(subpath === '.' ? m.name : `${m.name}/${subpath.slice(2)}`);
    }
  }
  const entriesFile = (entries: readonly string[]): string =>
    `${entries.map((e, i) => `import * as e${i} from '${e}';`).join('\n')}\nexport const all = [${entries.map((_, i) => `e${i}`).join(', ')}];\n`;
  writeFileSync(
    join(app, 'all-entries.ts'),
    entriesFile(allEntries.filter((e) => !CLIENT_TYPES_FAIL.has(e))),
  );

  // --- every README example: type-checked, compiled to CJS (.ts) and ESM (.mts), run -----------
  for (const [name, content] of files) writeFileSync(join(app, name), content);
  const src = join(app, 'examples');
  mkdirSync(src);
  for (const example of examples) {
    writeFileSync(join(src, `${example.slug}.ts`), example.source);
    writeFileSync(join(src, `${example.slug}.mts`), example.source);
  }
  writeFileSync(
    join(app, 'tsconfig.examples.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        target: 'es2022',
        module: 'node16',
        moduleResolution: 'node16',
        types: ['node'],
        esModuleInterop: true,
        // NestJS examples use its (legacy) decorators, as every Nest project does.
        experimentalDecorators: true,
        rootDir: 'examples',
        outDir: 'out',
      },
      include: ['examples'],
    }),
  );
  // Subpaths resolve through `typesVersions` (node10) and `exports` (bundler here; node16 with the
  // examples, which import them).
  await Promise.all([
    typecheck(app, 'all-entries.ts', ['node10', 'bundler'], true),
    runAsync(
      process.execPath,
      [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.examples.json'],
      app,
    ),
  ]);

  const env = await infrastructure(t, needs);
  for (const example of examples) {
    for (const [format, ext] of [
      ['CommonJS', 'js'],
      ['ESM', 'mjs'],
    ] as const) {
      await t.test(`${example.where} runs as ${format}`, () =>
        runExample(join(app, 'out', `${example.slug}.${ext}`), app, env),
      );
    }
  }
});
