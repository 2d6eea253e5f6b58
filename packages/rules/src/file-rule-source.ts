import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { fileStamp, positiveOption, watchFile } from '@graylane/core/experimental';
import { RuleSourceError } from './errors';
import { asError, describeError, errorCode } from './internal/caught';
import { checkFormat, parseRuleDocument, type RuleDocumentFormat } from './rule-document';
import type { RuleSource, RuleSourceUpdate } from './rule-source';

/** Quiet time after a file event before the file is read, ms: editors write in several steps. */
export const DEFAULT_FILE_DEBOUNCE_MS = 50;
/** Interval of the stat poll that backs up fs.watch (network filesystems, some containers), ms. */
export const DEFAULT_FILE_POLL_INTERVAL_MS = 1_000;

/** Options of {@link fileRuleSource}. */
export interface FileRuleSourceOptions {
  /** The rule file: an array of rules, or `{ rules: [...] }`, as JSON or YAML. Required. */
  readonly path: string;
  /** Default `auto` (JSON when the text starts with `[` or `{`, else YAML; YAML needs the `yaml` peer). */
  readonly format?: RuleDocumentFormat | undefined;
  /** Default {@link DEFAULT_FILE_DEBOUNCE_MS} (50). */
  readonly debounceMs?: number | undefined;
  /** Default {@link DEFAULT_FILE_POLL_INTERVAL_MS} (1000). */
  readonly pollIntervalMs?: number | undefined;
}

const FILE_RULE_SOURCE_OPTION_KEYS: readonly string[] = Object.keys({
  path: 1,
  format: 1,
  debounceMs: 1,
  pollIntervalMs: 1,
} satisfies Record<keyof FileRuleSourceOptions, 1>);

/**
 * A rule source reading a JSON or YAML file and reloading it when it changes (fs.watch on its
 * directory, which sees atomic renames and ConfigMap volume symlink swaps, backed by a stat poll).
 * A change is picked up within `debounceMs` of the fs event, or within `pollIntervalMs` +
 * `debounceMs` where fs.watch is silent. Write the file atomically (write a temporary file, then
 * rename): a half-written file is read as malformed and rejected, and the next write fixes it.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @example
 * app.use(laneEdge({ rules: fileRuleSource({ path: '/etc/graylane/rules.yaml' }) }));
 */
export function fileRuleSource(options: FileRuleSourceOptions): RuleSource {
  assertKnownOptions('fileRuleSource()', options, FILE_RULE_SOURCE_OPTION_KEYS);
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof options.path !== 'string' ||
    options.path === ''
  ) {
    throw new InvalidOptionError('path', 'expected the path of a rule file');
  }
  const path = resolve(options.path);
  const format = checkFormat(options.format, 'format');
  const debounceMs = positiveOption(options.debounceMs, 'debounceMs', DEFAULT_FILE_DEBOUNCE_MS);
  const pollIntervalMs = positiveOption(
    options.pollIntervalMs,
    'pollIntervalMs',
    DEFAULT_FILE_POLL_INTERVAL_MS,
  );
  const name = `file:${path}`;
  let closed = false;
  let watch: { close(): void } | undefined;
  let lastText: string | undefined;
  let reading = Promise.resolve();

  async function read(listener: (update: RuleSourceUpdate) => void): Promise<void> {
    const stamp = await fileStamp(path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (!closed) {
        const what = errorCode(error) === 'ENOENT' ? 'file not found' : describeError(error);
        listener({
          ok: false,
          kind: 'unavailable',
          error: new RuleSourceError(name, what, { cause: error }),
        });
      }
      return;
    }
    if (closed || text === lastText) return;
    lastText = text;
    let document: unknown;
    try {
      document = parseRuleDocument(text, format);
    } catch (error) {
      listener({
        ok: false,
        kind: 'invalid',
        error: new RuleSourceError(name, `cannot parse: ${describeError(error)}`, { cause: asError(error) }),
      });
      return;
    }
    listener({ ok: true, document, revision: stamp });
  }

  return {
    name,
    start(listener) {
      // Reads are chained: deliveries stay in file order.
      const again = () => {
        reading = reading.then(() => read(listener));
      };
      void fileStamp(path).then((stamp) => {
        if (closed) return;
        watch = watchFile(path, again, debounceMs, pollIntervalMs, stamp);
        again();
      });
    },
    async close() {
      closed = true;
      watch?.close();
      await reading;
    },
  };
}
