// Every built package (and each of its subpath exports) loads from ESM `import` with named
// exports and from CommonJS `require`, in a fresh Node process of the running version.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');

interface PackageJson {
  name: string;
  exports?: Record<string, string | { default?: string }>;
}

interface Entry {
  /** The specifier users write: `@graylane/core`, `@graylane/discovery/etcd`. */
  specifier: string;
}

function builtEntries(): Entry[] {
  const entries: Entry[] = [];
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const pkgDir = join(root, 'packages', dir);
    if (!existsSync(join(pkgDir, 'package.json')) || !existsSync(join(pkgDir, 'dist', 'index.js'))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as PackageJson;
    const exportsMap = pkg.exports ?? { '.': './dist/index.js' };
    for (const [subpath, target] of Object.entries(exportsMap)) {
      if (subpath === './package.json') continue;
      const file = typeof target === 'string' ? target : target.default;
      if (file === undefined || !existsSync(join(pkgDir, file))) continue;
      entries.push({ specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}` });
    }
  }
  return entries;
}

function node(args: string[]): string {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `node ${args.slice(0, -1).join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

// Node 23+ adds a 'module.exports' name to the namespace of a CommonJS module.
const FILTER = `(k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports'`;

const entries = builtEntries();

test('the built packages are found', () => {
  const names = entries.map((e) => e.specifier);
  assert.ok(names.includes('@graylane/core'), names.join(', '));
  assert.ok(names.includes('@graylane/express'), names.join(', '));
  assert.ok(names.includes('@graylane/rules'), names.join(', '));
});

for (const { specifier } of entries) {
  test(`${specifier}: CommonJS require and ESM import expose the same named exports`, () => {
    const cjs = JSON.parse(
      node([
        '-e',
        `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(specifier)})).filter(${FILTER}).sort()))`,
      ]),
    ) as string[];
    assert.ok(cjs.length > 0, 'no exports');
    const esm = JSON.parse(
      node([
        '--input-type=module',
        '-e',
        `import * as m from ${JSON.stringify(specifier)};
         import { createRequire } from 'node:module';
         const cjs = createRequire(process.cwd() + '/')(${JSON.stringify(specifier)});
         if (m.default !== cjs) throw new Error('default export is not module.exports');
         console.log(JSON.stringify(Object.keys(m).filter(${FILTER}).sort()));`,
      ]),
    ) as string[];
    assert.deepEqual(esm, cjs, 'every CommonJS export is a named ESM export');
  });
}

test('@graylane/core works through named ESM imports and through require', () => {
  const script = `
    const lane = withLane('gray', () => currentLane());
    let code;
    try { withLane('-bad', () => 0); } catch (err) { code = err instanceof GraylaneError && err.code; }
    console.log(JSON.stringify([lane, laneFromHeaders({ baggage: 'x-mse-tag=blue' }), code]));`;
  const expected = ['gray', 'blue', 'GL_ERR_INVALID_LANE'];
  const esm = node([
    '--input-type=module',
    '-e',
    `import { withLane, currentLane, laneFromHeaders, GraylaneError } from '@graylane/core';${script}`,
  ]);
  assert.deepEqual(JSON.parse(esm), expected);
  const cjs = node([
    '-e',
    `const { withLane, currentLane, laneFromHeaders, GraylaneError } = require('@graylane/core');${script}`,
  ]);
  assert.deepEqual(JSON.parse(cjs), expected);
});

test('@graylane/express: laneMiddleware is a named ESM import and a CommonJS export', () => {
  const check = `if (typeof laneMiddleware !== 'function' || typeof laneMiddleware() !== 'function') throw new Error('no laneMiddleware'); console.log('ok');`;
  assert.equal(
    node(['--input-type=module', '-e', `import { laneMiddleware } from '@graylane/express';${check}`]).trim(),
    'ok',
  );
  assert.equal(node(['-e', `const { laneMiddleware } = require('@graylane/express');${check}`]).trim(), 'ok');
});

test('@graylane/rules works through named ESM imports and through require, with core as its peer', () => {
  const script = `
    const rules = compileRules([{ lane: 'gray', matches: [{ headers: [{ name: 'x-user', value: 'u1' }] }] }]);
    let error;
    try { compileRules([{ lane: 'gray', matches: [{ headers: [{ name: 'bad header', value: 'x' }] }] }]); }
    catch (err) { error = [err.code, err instanceof InvalidRuleError, err instanceof GraylaneError]; }
    console.log(JSON.stringify([rules.decide({ headers: { 'x-user': 'u1' } }).lane, rules.decide({ headers: {} }) === NO_DECISION, error]));`;
  const expected = ['gray', true, ['GL_ERR_INVALID_RULE', true, true]];
  const esm = node([
    '--input-type=module',
    '-e',
    `import { compileRules, InvalidRuleError, NO_DECISION } from '@graylane/rules';
     import { GraylaneError } from '@graylane/core';${script}`,
  ]);
  assert.deepEqual(JSON.parse(esm), expected);
  const cjs = node([
    '-e',
    `const { compileRules, InvalidRuleError, NO_DECISION } = require('@graylane/rules');
     const { GraylaneError } = require('@graylane/core');${script}`,
  ]);
  assert.deepEqual(JSON.parse(cjs), expected);
});

test('@graylane/core loads none of @graylane/rules and exports no rule names', () => {
  const loaded = JSON.parse(
    node([
      '-e',
      `const core = require('@graylane/core');
       const files = Object.keys(require.cache);
       console.log(JSON.stringify({ rules: files.filter((f) => /packages[\\/]rules[\\/]|[\\/]dist[\\/]rules[\\/]/.test(f)).length,
         names: ['compileRules', 'compileTrust', 'InvalidRuleError', 'InvalidImportError', 'NO_DECISION'].filter((n) => n in core) }));`,
    ]),
  ) as { rules: number; names: string[] };
  assert.deepEqual(loaded, { rules: 0, names: [] });
});
