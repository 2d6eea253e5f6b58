// Code and docs must not drift: every `GL_ERR_*` code a package defines in its sources is listed
// in that package's README errors table (Code | When | What to do), and every code a README lists
// exists in the sources (of that package, or of another package whose errors it passes through,
// e.g. an adapter rethrowing core's GL_ERR_INVALID_OPTION).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');
const CODE_LITERAL = /(['"])(GL_ERR_[A-Z0-9_]+)\1/g;
const CODE_IN_CELL = /GL_ERR_[A-Z0-9_]+/g;

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Codes defined in a package's src, each with the first file that mentions it. */
function definedCodes(pkgDir: string): Map<string, string> {
  const codes = new Map<string, string>();
  for (const file of sourceFiles(join(pkgDir, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(CODE_LITERAL)) {
      if (!codes.has(match[2]!)) codes.set(match[2]!, relative(root, file));
    }
  }
  return codes;
}

interface ErrorsTable {
  codes: Set<string>;
  header: string | undefined;
}

/** The codes in the first column of the table under the README's "Errors" heading. */
function readmeErrorsTable(readme: string): ErrorsTable | undefined {
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => /^#{1,6}\s+.*\berrors?\b/i.test(line));
  if (start === -1) return undefined;
  const level = /^#+/.exec(lines[start]!)![0].length;
  const codes = new Set<string>();
  let header: string | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^(#{1,6})\s/.exec(line);
    if (heading && heading[1]!.length <= level) break;
    if (!line.trimStart().startsWith('|')) continue;
    const firstCell = line.split('|')[1] ?? '';
    if (header === undefined && /\bcode\b/i.test(firstCell)) header = line;
    for (const code of firstCell.match(CODE_IN_CELL) ?? []) codes.add(code);
  }
  return { codes, header };
}

const packages = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .sort();
const allCodes = new Set<string>();
for (const dir of packages)
  for (const code of definedCodes(join(root, 'packages', dir)).keys()) allCodes.add(code);

test('codes are found in the sources (the scanner works)', () => {
  assert.ok(allCodes.has('GL_ERR_INVALID_LANE'));
  assert.ok(allCodes.has('GL_ERR_INVALID_OPTION'));
});

for (const dir of packages) {
  const pkgDir = join(root, 'packages', dir);
  const defined = definedCodes(pkgDir);
  const readmePath = join(pkgDir, 'README.md');
  const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : undefined;
  if (defined.size === 0 && readme === undefined) continue;

  test(`packages/${dir}: README errors table matches the GL_ERR codes in src`, () => {
    if (defined.size > 0) {
      assert.ok(
        readme !== undefined,
        `packages/${dir}/README.md is missing; it must list ${[...defined.keys()].join(', ')}`,
      );
    }
    const table = readme === undefined ? undefined : readmeErrorsTable(readme);
    if (defined.size > 0) {
      assert.ok(table !== undefined, `packages/${dir}/README.md has no "Errors" section`);
    }
    if (table === undefined) return;
    assert.ok(
      table.header !== undefined && /code\s*\|\s*when\s*\|\s*what to do/i.test(table.header),
      `packages/${dir}/README.md errors table needs the header | Code | When | What to do |`,
    );
    const missing = [...defined]
      .filter(([code]) => !table.codes.has(code))
      .map(([code, file]) => `${code} (${file})`);
    assert.deepEqual(missing, [], `codes missing from packages/${dir}/README.md`);
    const unknown = [...table.codes].filter((code) => !allCodes.has(code));
    assert.deepEqual(unknown, [], `packages/${dir}/README.md lists codes that no source defines`);
  });
}
