import { FactoryNotCalledError, InvalidOptionError } from './errors';

// Suggestions further away than this many edits are noise, not typos.
const MAX_SUGGESTION_DISTANCE = 3;

/**
 * Rejects an options object that has a key its factory does not know, so a typo
 * (`{ headr: 'x-lane' }`) fails at setup instead of silently keeping the default. Keys whose value
 * is `undefined` are still checked: `{ headr: undefined }` is a typo too. Non-objects are left to
 * the factory's own checks.
 *
 * Built for the packages of graylane and for adapters written on core; the shape may still change.
 *
 * @experimental
 * @param where the factory, as users call it: `'laneMiddleware()'`.
 * @param options what the user passed.
 * @param known every valid key.
 * @param path where `options` sits inside the factory's options, for a nested object
 *   (`'sources[0]'`, `'outlier'`); the error's `path` is then `sources[0].kye`. Default: top level.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` naming the key and, when one is close, the
 *   valid key it was probably meant to be.
 * @example
 * const KNOWN = ['header', 'carry'] as const;
 * assertKnownOptions('myAdapter()', options, KNOWN);
 */
export function assertKnownOptions(
  where: string,
  options: unknown,
  known: readonly string[],
  path?: string,
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return;
  for (const key in options) {
    if (!Object.hasOwn(options, key) || known.includes(key)) continue;
    const near = closestKey(key, known);
    const at = path === undefined ? key : `${path}.${key}`;
    throw new InvalidOptionError(
      at,
      `${where} has no option ${JSON.stringify(at)}${
        near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`
      }; valid options: ${known.join(', ')}`,
    );
  }
}

/**
 * The valid key closest to `key` (case-insensitive edit distance, at most 3 edits and fewer than its length), or `undefined`.
 *
 * @experimental
 * @example
 * closestKey('headr', ['header', 'carry']); // 'header'
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  // A one-letter key is not a typo of another letter: at most length - 1 edits.
  let bestDistance = Math.min(MAX_SUGGESTION_DISTANCE, lower.length - 1) + 1;
  let best: string | undefined;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, two rows. Setup-time only. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * Whether `value` is an incoming HTTP request (Node's `IncomingMessage`, which Express, Koa and
 * plain `node:http` all hand to a handler) rather than an options object: the sign of a factory
 * passed to a framework without calling it, `app.use(laneMiddleware)`.
 *
 * @experimental
 * @example
 * if (isIncomingRequest(options)) throw new FactoryNotCalledError('laneMiddleware', 'app.use(laneMiddleware())');
 */
export function isIncomingRequest(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { headers?: unknown; method?: unknown; url?: unknown; socket?: unknown };
  return (
    typeof v.headers === 'object' &&
    v.headers !== null &&
    typeof v.method === 'string' &&
    typeof v.url === 'string' &&
    typeof v.socket === 'object'
  );
}

/**
 * What a middleware factory does when a framework called it as the middleware itself
 * (`app.use(laneMiddleware)`): the typed error goes to `next` when there is one (Express answers
 * 500 and logs it), else it is thrown. Returns a handler that reports the same error, so the
 * factory can return it in place of the middleware it would have built.
 *
 * @experimental
 * @param factory the factory's name, `'laneMiddleware'`.
 * @param usage what to write instead, `'app.use(laneMiddleware())'`.
 * @param next the third argument the framework passed.
 * @throws {FactoryNotCalledError} `GL_ERR_FACTORY_NOT_CALLED` when `next` is not a function.
 * @example
 * if (isIncomingRequest(options)) return factoryNotCalled('laneMiddleware', 'app.use(laneMiddleware())', next);
 */
export function factoryNotCalled(
  factory: string,
  usage: string,
  next: unknown,
): (req: unknown, res: unknown, next: (err?: unknown) => void) => void {
  const error = new FactoryNotCalledError(factory, usage);
  if (typeof next !== 'function') throw error;
  (next as (err: unknown) => void)(error);
  return function factoryNotCalled(_req, _res, next) {
    next(error);
  };
}
