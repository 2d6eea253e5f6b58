// Loads the repo's packages from their compiled dist/ (built by `npx tsc -b` at the root).
// The bench package does not depend on them through npm: a `file:` dependency would make npm install
// the linked packages' own dependencies into packages/*/node_modules. Importing dist/ by path keeps
// the libraries' node_modules untouched; `@graylane/express` finds `@graylane/core` through the root
// workspace link, so both paths load the same single copy of core.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ROOT = new URL('../../', import.meta.url);

/** Absolute path of a file in the repository. */
export function repoPath(relative) {
  return new URL(relative, ROOT).pathname;
}

/** `require` of a graylane package's dist entry, e.g. `graylane('core')`. */
export function graylane(name) {
  return require(repoPath(`packages/${name}/dist/index.js`));
}

/** The version in packages/<name>/package.json, or undefined. */
export function graylaneVersion(name) {
  const file = repoPath(`packages/${name}/package.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')).version;
}
