// Preloaded (`--import`) into the per-package suites (packages/*/bench/*.bench.ts), which live
// outside this package: a bare import that the normal lookup cannot find (mitata, say) is resolved
// again from bench/, so those files can use the bench package's dependencies. ES modules go through
// the hook below; CommonJS `require` through NODE_PATH, which the runner sets to bench/node_modules.
import { register } from 'node:module';

register('./bench-deps-hooks.mjs', import.meta.url);
