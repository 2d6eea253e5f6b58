// The quick start of each framework package's README is a docs/quickstart file, verbatim, and
// runs: started as its own process (`node --import tsx`), a tagged request reaches the handler in
// its lane and the handler's fetch() carries it; an untagged one stays base.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from './helpers/listen';
import {
  eventually,
  getJson,
  QUICKSTART_DIR,
  REPO_ROOT,
  runQuickstart,
  tagOf,
  upstream,
} from './helpers/quickstart';

const QUICKSTARTS: ReadonlyArray<readonly [file: string, readme: string]> = [
  ['nestjs/service.ts', 'packages/nestjs/README.md'],
  ['fastify-service.ts', 'packages/fastify/README.md'],
  ['koa-service.ts', 'packages/koa/README.md'],
  ['node-http-service.ts', 'packages/core/README.md'],
];

/** The NestJS quick start uses decorators: it runs with its own tsconfig, as a Nest project does. */
function tsconfigOf(file: string): Record<string, string> {
  return file.startsWith('nestjs/')
    ? { TSX_TSCONFIG_PATH: join(QUICKSTART_DIR, 'nestjs', 'tsconfig.json') }
    : {};
}

for (const [file, readme] of QUICKSTARTS) {
  test(`${readme} has docs/quickstart/${file} verbatim`, () => {
    const source = readFileSync(join(QUICKSTART_DIR, file), 'utf8');
    const text = readFileSync(join(REPO_ROOT, readme), 'utf8');
    // The fence may carry the example tags test/packed-install.test.ts reads (CONTRIBUTING.md).
    const at = text.indexOf(`\n${source}\`\`\``);
    assert.ok(at !== -1, `${readme} has docs/quickstart/${file} verbatim (copy it again)`);
    assert.match(text.slice(text.lastIndexOf('\n', at - 1) + 1, at), /^```ts(?: |$)/);
  });

  test(`${file}: each request runs in its lane and its fetch() carries it`, async (t) => {
    const inventory = await upstream(t, (req) => ({ tag: tagOf(req) }));
    const port = await freePort();
    const service = runQuickstart(t, file, {
      ...tsconfigOf(file),
      PORT: String(port),
      INVENTORY_URL: inventory.url,
    });
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
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(QUICKSTART_DIR, 'nestjs', 'tsconfig.json')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
