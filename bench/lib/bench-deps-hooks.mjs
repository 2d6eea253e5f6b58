// Module resolve hook (see bench-deps.mjs): retry a bare specifier from the bench package.
const BENCH_PACKAGE = new URL('../package.json', import.meta.url).href;

function isBare(specifier) {
  return !/^(?:[./]|[a-z][a-z0-9+.-]*:)/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw err;
    return nextResolve(specifier, { ...context, parentURL: BENCH_PACKAGE });
  }
}
