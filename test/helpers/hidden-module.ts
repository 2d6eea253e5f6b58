/**
 * JavaScript to put first in a child `node -e` script: from then on, `require(name)` fails with
 * MODULE_NOT_FOUND, as when an optional peer is not installed.
 */
export function hideModule(name: string): string {
  return `
    {
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === ${JSON.stringify(name)}) {
          throw Object.assign(new Error("Cannot find module '${name}'"), { code: 'MODULE_NOT_FOUND' });
        }
        return resolve.call(this, request, ...rest);
      };
    }
  `;
}
