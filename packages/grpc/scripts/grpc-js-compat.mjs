#!/usr/bin/env node
// Runs @graylane/grpc's tests against other @grpc/grpc-js versions, without touching the installed
// one: each version is fetched with `npm pack` into .tmp/grpc-js-compat/<version> and every
// require('@grpc/grpc-js') is redirected to it. Versions below 1.14 run the interceptor and chain
// tests only (the lane channel needs grpc-js >= 1.14 and throws GL_ERR_GRPC_UNSUPPORTED there).
//
//   node packages/grpc/scripts/grpc-js-compat.mjs [version...]   (default: 1.10.0 1.12.6 1.13.4 1.14.0)
//
// Build first (`npx tsc -b`). Needs the npm registry; not part of `npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;
const versions =
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['1.10.0', '1.12.6', '1.13.4', '1.14.0'];
const INTERCEPTOR_TESTS = [
  'packages/grpc/test/lane-server-interceptor.test.ts',
  'packages/grpc/test/lane-client-interceptor.test.ts',
  'packages/grpc/test/grpc-js-support.test.ts',
  'test/grpc-chain.test.ts',
];
const CHANNEL_TESTS = [
  'packages/grpc/test/register-lane-channel.test.ts',
  'packages/grpc/test/lane-channel-concurrency.test.ts',
];

function atLeast(version, major, minor) {
  const [a, b] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

let failed = 0;
for (const version of versions) {
  const dir = join(root, '.tmp', 'grpc-js-compat', version);
  if (!existsSync(join(dir, 'package', 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    const pack = spawnSync('npm', ['pack', `@grpc/grpc-js@${version}`, '--silent'], {
      cwd: dir,
      encoding: 'utf8',
    });
    if (pack.status !== 0) {
      console.error(`npm pack @grpc/grpc-js@${version} failed:\n${pack.stderr}`);
      failed++;
      continue;
    }
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
    spawnSync('tar', ['-xzf', join(dir, tarball), '-C', dir], { stdio: 'inherit' });
  }
  const files = atLeast(version, 1, 14) ? [...INTERCEPTOR_TESTS, ...CHANNEL_TESTS] : INTERCEPTOR_TESTS;
  console.log(`\n== @grpc/grpc-js ${version}: ${files.length} test files`);
  const run = spawnSync(
    process.execPath,
    [
      '--require',
      join(root, 'packages/grpc/scripts/redirect-grpc-js.cjs'),
      '--import',
      'tsx',
      '--test',
      '--test-timeout=120000',
      ...files,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, GRPC_JS_DIR: join(dir, 'package'), NODE_PATH: join(root, 'node_modules') },
    },
  );
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
