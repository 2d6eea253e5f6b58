// A file watch that notices every way a configuration file is replaced, shared by the packages
// that read one (discovery's static registry, the rules' file source).
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A running {@link watchFile}.
 * @experimental Shared by `@graylane/discovery` and `@graylane/rules`; may change.
 */
export interface FileWatch {
  /** Stops watching and polling; `onChange` is not called again. */
  close(): void;
}

/**
 * Calls `onChange` (debounced by `debounceMs`) when `file` may have changed: `fs.watch` on its
 * directory, which sees atomic renames and Kubernetes ConfigMap symlink swaps, plus a
 * {@link fileStamp} poll every `pollIntervalMs` for filesystems where `fs.watch` is silent.
 * Nothing here keeps the process alive (timers are `unref()`ed, the watcher is not persistent).
 *
 * @param initialStamp the stamp of the version already read, so the first poll does not report it.
 * @experimental For registries and rule sources that watch a file (`staticRegistry`,
 *   `fileRuleSource`); may change.
 * @example
 * const watch = watchFile('/etc/graylane/rules.yaml', reload, 50, 1000, await fileStamp(path));
 * // later
 * watch.close();
 */
export function watchFile(
  file: string,
  onChange: () => void,
  debounceMs: number,
  pollIntervalMs: number,
  initialStamp: string,
): FileWatch {
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  let stamp = initialStamp;
  let watcher: FSWatcher | undefined;

  const schedule = (): void => {
    if (closed) return;
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!closed) onChange();
    }, debounceMs);
    debounce.unref();
  };

  try {
    watcher = watch(dirname(file), { persistent: false }, schedule);
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    watcher = undefined; // the poll below still notices changes
  }

  const poll = setInterval(() => {
    void fileStamp(file).then((now) => {
      if (!closed && now !== stamp) {
        stamp = now;
        schedule();
      }
    });
  }, pollIntervalMs);
  poll.unref();

  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      if (debounce !== undefined) clearTimeout(debounce);
    },
  };
}

/**
 * Identity of a file's current version (inode, size, mtime), or `'missing'`. Never rejects.
 * @experimental See {@link watchFile}.
 * @example
 * const before = await fileStamp(path); // '1234:88:1733400000000.5'
 */
export function fileStamp(file: string): Promise<string> {
  return stat(file).then(
    (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
    () => 'missing',
  );
}
