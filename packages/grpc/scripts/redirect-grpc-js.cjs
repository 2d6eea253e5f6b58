// Preloaded by grpc-js-compat.mjs: every require('@grpc/grpc-js') in the process (tests, helpers,
// @graylane/grpc's dist) resolves to the grpc-js copy in GRPC_JS_DIR, so one version is loaded.
const Module = require('node:module');

const target = require.resolve(process.env.GRPC_JS_DIR);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveGrpcJs(request, ...rest) {
  if (request === '@grpc/grpc-js') return target;
  return resolveFilename.call(this, request, ...rest);
};
