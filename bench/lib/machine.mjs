// What a result was measured on: machine, runtimes, package versions, commit.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { graylaneVersion, repoPath } from './graylane.mjs';

const GRAYLANE_PACKAGES = ['core', 'express', 'discovery', 'grpc'];
const BENCH_PACKAGES = [
  'express',
  'undici',
  'autocannon',
  'mitata',
  'cls-hooked',
  '@opentelemetry/api',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/core',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/instrumentation',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-express',
  '@opentelemetry/instrumentation-undici',
];

function installedVersion(name) {
  const file = repoPath(`bench/node_modules/${name}/package.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
}

function git(args) {
  const r = spawnSync('git', args, { cwd: repoPath('.'), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Version string (`v20.20.2`) of a Node binary, or undefined when it does not run. */
export function nodeVersion(execPath) {
  const r = spawnSync(execPath, ['-p', 'process.version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function machineInfo() {
  const cpus = os.cpus();
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: status === undefined ? undefined : status.length > 0,
    graylane: Object.fromEntries(GRAYLANE_PACKAGES.map((p) => [`@graylane/${p}`, graylaneVersion(p)])),
    benchPackages: Object.fromEntries(BENCH_PACKAGES.map((p) => [p, installedVersion(p)])),
  };
}

export { BENCH_PACKAGES };
